import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { maskSecret } from '../../providers/shared/secrets';
import { runChat } from '../../scripts/chat';
import { dialectFor, type FakeProviderServer, startFakeProviderServer } from '../fakes/provider-server';
import { emptyDirectory, runBuiltScript } from '../helpers/cli';
import { envVar, FIRST_PROVIDER, SECOND_PROVIDER, testKey } from '../helpers/providers';

const FIRST_KEY = testKey(FIRST_PROVIDER, 'repl');
const SECOND_KEY = testKey(SECOND_PROVIDER, 'repl');

describe('npm run chat', () => {
  let server: FakeProviderServer;
  beforeAll(async () => {
    server = await startFakeProviderServer();
  });
  afterAll(async () => server.stop());
  beforeEach(() => server.reset());

  const env = () => ({
    [envVar(FIRST_PROVIDER, 'API_KEY')]: FIRST_KEY,
    [envVar(FIRST_PROVIDER, 'BASE_URL')]: server.baseUrlFor(FIRST_PROVIDER),
    [envVar(SECOND_PROVIDER, 'API_KEY')]: SECOND_KEY,
    [envVar(SECOND_PROVIDER, 'BASE_URL')]: server.baseUrlFor(SECOND_PROVIDER),
  });

  async function converse(lines: string[]): Promise<{ code: number; output: string }> {
    const input = new PassThrough();
    const output = new PassThrough();
    let text = '';
    output.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
    });
    input.end(`${lines.join('\n')}\n`);
    const code = await runChat(env(), input, output);
    return { code, output: text };
  }

  it('answers with history, names the provider and masked key, and shows a fallback', async () => {
    server.setHandler((request) =>
      request.dialect === FIRST_PROVIDER && request.messages.at(-1)?.content === 'second'
        ? dialectFor(FIRST_PROVIDER).errors.unavailable()
        : { type: 'reply', text: `answer to ${request.messages.at(-1)?.content}` },
    );
    const { code, output } = await converse(['first', 'second', '/reset', 'third', '/stats', '/quit']);
    expect(code).toBe(0);
    expect(output).toContain('answer to first');
    expect(output).toContain(`[${FIRST_PROVIDER} ${maskSecret(FIRST_KEY)}`);
    expect(output).toMatch(
      new RegExp(`answer to second\\n\\[${SECOND_PROVIDER} .* · after ${FIRST_PROVIDER} transient\\]`),
    );
    expect(output).toContain('(conversation forgotten)');
    expect(output).toMatch(/pool: \d+ of \d+ requests left today/);
    expect(output).not.toContain(FIRST_KEY);
    // The second question carried the first exchange; after /reset the third carried none.
    const byQuestion = (question: string) =>
      server.requests.find((request) => request.messages.at(-1)?.content === question);
    expect(byQuestion('second')?.messages.map((message) => message.content)).toContain('answer to first');
    expect(byQuestion('third')?.messages).toHaveLength(2);
  });

  it('says plainly when no provider can answer, and keeps going', async () => {
    server.setHandler((request) => dialectFor(request.dialect).errors.serverError());
    const { output } = await converse(['hello', '/quit']);
    expect(output).toContain('[no answer: unavailable');
  });

  it('runs as a user starts it, reading stdin', async () => {
    const directory = emptyDirectory('switchboard-chat-');
    try {
      const { code, stdout } = await runBuiltScript('scripts/chat.js', {
        cwd: directory.path,
        env: env(),
        input: 'سلام ۱۲۳\n',
      });
      expect(code).toBe(0);
      expect(stdout).toContain('echo: سلام ۱۲۳');
    } finally {
      directory.remove();
    }
  });
});
