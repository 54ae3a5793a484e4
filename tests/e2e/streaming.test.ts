import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { type FakeProviderServer, startFakeProviderServer } from '../fakes/provider-server';
import { type FakeTelegramServer, startFakeTelegramServer } from '../fakes/telegram-server';
import {
  answered,
  botEnv,
  crashRecords,
  FIRST_PROVIDER,
  startPollingBot,
  suspiciousTexts,
} from '../helpers/bot-harness';
import type { BotProcess } from '../helpers/bot-process';

/** The text of a live preview without its cursor, checking the cursor was there. */
function withoutCursor(text: string): string {
  expect(text.endsWith('▍')).toBe(true);
  return text.slice(0, -1).trimEnd();
}

/**
 * Streamed replies (STREAM_REPLIES defaults to on), through the built bot: a slowly streamed
 * answer is visible while it is being written — drafts in private chats, an edited message in
 * groups — and the final message is the whole answer. Telegram's flood control is honoured.
 */
describe('streamed replies', () => {
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let bot: BotProcess;
  const user = { id: 7001, first_name: 'Sam', language_code: 'en' };
  const group = { id: -1007000000001, title: 'Stream watchers' };
  const answer = 'one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen';

  beforeAll(async () => {
    [telegram, providers] = await Promise.all([startFakeTelegramServer(), startFakeProviderServer()]);
    bot = await startPollingBot(
      telegram,
      botEnv(telegram, providers, [FIRST_PROVIDER], { RATE_LIMIT_PER_MINUTE: '0' }),
    );
  });
  afterAll(async () => {
    await bot?.stop();
    await Promise.all([telegram?.stop(), providers?.stop()]);
  });
  beforeEach(() => {
    providers.reset();
    telegram.disableFloodControl();
  });

  it('shows drafts of a private answer while it streams, then sends the whole answer', async () => {
    // 15 words, 120 ms apart: about 1.8 s of streaming.
    providers.setHandler(() => ({ type: 'reply', text: answer, chunkDelayMs: 120 }));
    const since = telegram.mark();
    const update = telegram.sendText(user, 'count slowly');

    const firstDraft = await telegram.waitForCall('sendMessageDraft', (call) => call.ok, { since, timeoutMs: 10_000 });
    // Visible before the answer ended: a partial draft, and no message yet.
    const partial = withoutCursor(String(firstDraft.params.text));
    expect(answer.startsWith(partial)).toBe(true);
    expect(partial.length).toBeLessThan(answer.length);
    expect(telegram.messagesIn(user.id)).toEqual([]);

    await answered(bot, update);
    const [final, ...others] = telegram.messagesIn(user.id);
    expect(others).toEqual([]);
    expect(final?.text).toBe(answer);

    const drafts = telegram.drafts(user.id);
    expect(drafts.length).toBeGreaterThanOrEqual(2);
    for (const draft of drafts) expect(answer.startsWith(withoutCursor(draft.text))).toBe(true);
    expect(new Set(drafts.map((draft) => draft.draftId)).size).toBe(1);
    // Throttled: about one update a second per chat.
    for (let index = 1; index < drafts.length; index++) {
      expect(drafts[index]!.time - drafts[index - 1]!.time).toBeGreaterThanOrEqual(900);
    }
    const finalCall = telegram.callsTo('sendMessage').at(-1);
    expect(Math.max(...drafts.map((draft) => draft.time))).toBeLessThanOrEqual(finalCall?.time ?? 0);
  });

  it('in a group, posts a preview, edits it as the answer grows, and ends with the whole answer', async () => {
    // 15 words, 250 ms apart: about 3.75 s, long enough for one throttled edit (every 3 s).
    providers.setHandler(() => ({ type: 'reply', text: answer, chunkDelayMs: 250 }));
    const since = telegram.mark();
    const update = telegram.sendText(user, '@switchboard_test_bot count slowly', { chat: group });

    const preview = await telegram.waitForMessage(group.id, (message) => message.fromBot, { since, timeoutMs: 10_000 });
    const partial = withoutCursor(preview.text);
    expect(answer.startsWith(partial)).toBe(true);
    expect(partial.length).toBeLessThan(answer.length);
    expect(preview.replyToMessageId).toBe(update.message?.message_id);

    await answered(bot, update);
    const [final, ...others] = telegram.messagesIn(group.id);
    expect(others).toEqual([]);
    expect(final?.message_id).toBe(preview.message_id);
    expect(final?.text).toBe(answer);
    const edits = telegram.callsTo('editMessageText').filter((call) => call.ok && call.index >= since);
    expect(edits.length).toBeGreaterThanOrEqual(2); // at least one partial edit, then the final text
    const partialEdit = withoutCursor(String(edits[0]?.params.text));
    expect(answer.startsWith(partialEdit) && partialEdit.length > partial.length).toBe(true);
    expect(telegram.callsTo('sendMessageDraft').filter((call) => call.params.chat_id === group.id)).toEqual([]);
  });

  it('waits out Telegram flood control (429 retry_after) and still delivers the answer', async () => {
    providers.setHandler((request) => ({ type: 'reply', text: `echo: ${request.messages.at(-1)?.content ?? ''}` }));
    // Every message to the chat is refused with 429 retry_after=1 until the flood is over.
    telegram.enableFloodControl({ perChat: { limit: 0, windowMs: 60_000 }, retryAfterSeconds: 1 });
    const since = telegram.mark();
    const update = telegram.sendText(user, 'in a flood');
    const refused = await telegram.waitForCall('sendMessage', (call) => call.status === 429, {
      since,
      timeoutMs: 10_000,
    });
    telegram.disableFloodControl();
    await answered(bot, update);

    const delivered = telegram.callsTo('sendMessage').filter((call) => call.ok && call.index > refused.index);
    expect(delivered.map((call) => call.params.text)).toEqual(['echo: in a flood']);
    expect(delivered[0]!.time - refused.time).toBeGreaterThanOrEqual(900);
    expect(telegram.messagesIn(user.id).at(-1)?.text).toBe('echo: in a flood');
    expect(crashRecords(bot)).toEqual([]);
    expect(suspiciousTexts(telegram)).toEqual([]);
  });
});
