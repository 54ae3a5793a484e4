import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { dialectFor, type FakeProviderServer, startFakeProviderServer } from '../fakes/provider-server';
import { type FakeTelegramServer, type StoredMessage, startFakeTelegramServer } from '../fakes/telegram-server';
import {
  ask,
  botEnv,
  crashRecords,
  FIRST_PROVIDER,
  requestsEndingWith,
  SECOND_PROVIDER,
  startPollingBot,
  startRedisBotWorld,
} from '../helpers/bot-harness';
import type { BotProcess } from '../helpers/bot-process';

/**
 * /settings through the built bot: the menu and its buttons, custom instructions, model
 * preference, language and streaming, each the asking user's alone.
 */
type Keyboard = { inline_keyboard: { text: string; callback_data: string }[][] };

const buttonsOf = (message: StoredMessage) => (message.replyMarkup as Keyboard).inline_keyboard.flat();
const button = (message: StoredMessage, label: string) => {
  const found = buttonsOf(message).find((candidate) => candidate.text.replace(/^✓ /, '') === label);
  if (found === undefined) throw new Error(`no button ${label} in ${JSON.stringify(buttonsOf(message))}`);
  return found;
};
const chosen = (message: StoredMessage) =>
  buttonsOf(message)
    .filter((candidate) => candidate.text.startsWith('✓ '))
    .map((candidate) => candidate.text.slice(2));

describe('/settings', () => {
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let bot: BotProcess;
  let nextUser = 8100;
  const newUser = (language = 'en') => ({ id: ++nextUser, first_name: `Set ${nextUser}`, language_code: language });

  beforeAll(async () => {
    [telegram, providers] = await Promise.all([startFakeTelegramServer(), startFakeProviderServer()]);
    bot = await startPollingBot(
      telegram,
      botEnv(telegram, providers, [FIRST_PROVIDER, SECOND_PROVIDER], {
        STREAM_REPLIES: 'true',
        RATE_LIMIT_PER_MINUTE: '0',
        SYSTEM_PROMPT: 'You are the Switchboard test assistant.',
        MODEL_PREFERENCE_FAST: `${SECOND_PROVIDER}:fast-model-9`,
      }),
    );
  });
  afterAll(async () => {
    await bot?.stop();
    await Promise.all([telegram?.stop(), providers?.stop()]);
  });
  beforeEach(() => {
    providers.reset();
    providers.setHandler((request) => ({ type: 'reply', text: `echo: ${request.messages.at(-1)?.content}` }));
  });

  /** Presses a button and returns the text the press was answered with. */
  async function press(from: { id: number }, data: string, message: StoredMessage): Promise<string | undefined> {
    const since = telegram.mark();
    const update = telegram.sendCallbackQuery(from as never, data, { message });
    const call = await telegram.waitForCall(
      'answerCallbackQuery',
      (candidate) => candidate.params.callback_query_id === update.callback_query?.id,
      { since, timeoutMs: 5000 },
    );
    return call.params.text === undefined ? undefined : String(call.params.text);
  }

  /** The menu message as it looks now. */
  const current = (message: StoredMessage) =>
    telegram.transcript(message.chat.id).find((candidate) => candidate.message_id === message.message_id)!;

  /** The system prompt of the provider request that carried `text` as the user's turn. */
  const systemPromptFor = (text: string) => {
    const [request] = requestsEndingWith(providers, text);
    return request?.messages.find((message) => message.role === 'system')?.content;
  };

  it('shows the menu, saves a style at a press and uses it in the next request', async () => {
    const user = newUser();
    const menu = await ask(telegram, user, '/settings');
    expect(menu.text).toContain('⚙️ Your settings');
    expect(menu.text).toContain('Answer style: Default');
    expect(chosen(menu)).toEqual(['Default', 'Auto', 'Automatic']);
    // "smart" is not configured: not offered.
    expect(buttonsOf(menu).map((candidate) => candidate.text)).not.toContain('Smart');

    expect(await press(user, button(menu, 'Teacher').callback_data, menu)).toBe('Saved.');
    expect(current(menu).text).toContain('Answer style: Teacher');
    expect(chosen(current(menu))).toEqual(['Teacher', 'Auto', 'Automatic']);
    // The same press again: answered, nothing breaks.
    expect(await press(user, button(menu, 'Teacher').callback_data, menu)).toBe('Saved.');

    await ask(telegram, user, 'what is a noun?');
    const prompt = systemPromptFor('what is a noun?');
    expect(prompt).toContain('You are the Switchboard test assistant.');
    expect(prompt).toContain('patient teacher');
    expect(crashRecords(bot)).toEqual([]);
  });

  it("keeps each user's persona and instructions to their own requests, even asked at the same moment", async () => {
    const alice = newUser();
    const bob = newUser('fa');
    const saved = await ask(telegram, alice, '/settings prompt Always answer like a pirate, ALICE-ONLY-MARK.');
    expect(saved.text).toContain('«Always answer like a pirate, ALICE-ONLY-MARK.»');
    const bobMenu = await ask(telegram, bob, '/settings');
    expect(await press(bob, button(bobMenu, 'مفصل').callback_data, bobMenu)).toBe('ذخیره شد.');

    // Both ask at once, several times over.
    const since = telegram.mark();
    for (let round = 0; round < 3; round++) {
      telegram.sendText(alice, `alice question ${round}`);
      telegram.sendText(bob, `bob question ${round}`);
    }
    for (const [from, prefix] of [
      [alice, 'alice'],
      [bob, 'bob'],
    ] as const) {
      await telegram.waitForMessage(from.id, (message) => message.text === `echo: ${prefix} question 2`, {
        since,
        timeoutMs: 10_000,
      });
    }
    for (let round = 0; round < 3; round++) {
      expect(systemPromptFor(`alice question ${round}`)).toBe('Always answer like a pirate, ALICE-ONLY-MARK.');
      const bobs = systemPromptFor(`bob question ${round}`);
      expect(bobs).toContain('Answer thoroughly');
      expect(bobs).not.toContain('ALICE-ONLY-MARK');
    }
    // A third user, who set nothing, gets the bot's own prompt alone.
    const carol = newUser();
    await ask(telegram, carol, 'carol question');
    expect(systemPromptFor('carol question')).toBe('You are the Switchboard test assistant.');
    const everyRequest = providers.requests.filter((request) => !JSON.stringify(request.messages).includes('alice'));
    expect(JSON.stringify(everyRequest.map((request) => request.messages))).not.toContain('ALICE-ONLY-MARK');
  });

  it('refuses over-long or empty instructions, shows them back, and a style replaces them', async () => {
    const user = newUser();
    const tooLong = await ask(telegram, user, `/settings prompt ${'x'.repeat(1001)}`);
    expect(tooLong.text).toBe(
      'Those instructions are too long (1001 characters; the most is 1000). Please shorten them.',
    );
    expect((await ask(telegram, user, '/settings prompt')).text).toContain('You have no custom instructions.');
    const persian = 'همیشه به فارسی و کوتاه جواب بده.';
    expect((await ask(telegram, user, `/settings prompt ${persian}`)).text).toContain(`«${persian}»`);
    expect((await ask(telegram, user, '/settings prompt')).text).toContain(`«${persian}»`);

    const menu = await ask(telegram, user, '/settings');
    expect(menu.text).toContain('Answer style: custom instructions');
    expect(menu.text).toContain(persian);
    expect(chosen(menu)).toEqual(['Auto', 'Automatic']);
    await ask(telegram, user, 'with instructions');
    expect(systemPromptFor('with instructions')).toBe(persian);

    await press(user, button(menu, 'Concise').callback_data, menu);
    await ask(telegram, user, 'concise now');
    expect(systemPromptFor('concise now')).toContain('as briefly as you can');
    expect(systemPromptFor('concise now')).not.toContain(persian);
  });

  it('sends "fast" users to the configured provider and model, and falls back when it fails', async () => {
    const user = newUser();
    const other = newUser();
    const menu = await ask(telegram, user, '/settings');
    await press(user, button(menu, 'Fast').callback_data, menu);
    expect(current(menu).text).toContain('Model: Fast');

    await ask(telegram, user, 'quick one');
    expect(requestsEndingWith(providers, 'quick one').map((request) => [request.dialect, request.model])).toEqual([
      [SECOND_PROVIDER, 'fast-model-9'],
    ]);
    await ask(telegram, other, 'ordinary one');
    expect(requestsEndingWith(providers, 'ordinary one').map((request) => request.dialect)).toEqual([FIRST_PROVIDER]);

    // The preferred provider fails: the answer comes from ordinary routing.
    providers.setHandler((request) =>
      request.dialect === SECOND_PROVIDER
        ? dialectFor(SECOND_PROVIDER).errors.serverError()
        : { type: 'reply', text: `echo: ${request.messages.at(-1)?.content}` },
    );
    expect((await ask(telegram, user, 'still answered')).text).toBe('echo: still answered');
    expect(requestsEndingWith(providers, 'still answered').map((request) => request.dialect)).toEqual([
      SECOND_PROVIDER,
      FIRST_PROVIDER,
    ]);
    // A made-up press for a preference that is not offered changes nothing.
    expect(await press(user, `set:${user.id}:m:smart`, menu)).toBe('That button no longer works.');
  });

  it('overrides the interface language and turns streaming off for that user only', async () => {
    const user = newUser('en');
    const menu = await ask(telegram, user, '/settings');
    expect(await press(user, button(menu, 'فارسی').callback_data, menu)).toBe('ذخیره شد.');
    expect(current(menu).text).toContain('⚙️ تنظیمات تو');
    expect((await ask(telegram, user, '/help')).text).toContain('هر متنی بفرستی');

    const persianMenu = current(menu);
    expect(await press(user, button(persianMenu, 'نمایش زنده: روشن').callback_data, persianMenu)).toBe('ذخیره شد.');
    expect(current(menu).text).toContain('نمایش زنده: خاموش');

    providers.setHandler((request) => ({
      type: 'reply',
      text: `slow echo of ${request.messages.at(-1)?.content}`,
      chunkDelayMs: 60,
    }));
    const other = newUser();
    await ask(telegram, user, 'no drafts for me');
    await ask(telegram, other, 'drafts for me');
    expect(telegram.drafts(user.id)).toEqual([]);
    expect(telegram.drafts(other.id).length).toBeGreaterThan(0);

    // Back to automatic: English again for this English-speaking user.
    const latest = current(menu);
    await press(user, button(latest, 'خودکار').callback_data, latest);
    expect((await ask(telegram, user, '/help')).text).toContain('Send me any text');
  });

  it("refuses someone else's press in a group, and a button it does not know", async () => {
    const owner = newUser();
    const stranger = newUser();
    const group = { id: -1008100000001, title: 'Settings group' };
    const menu = await ask(telegram, owner, '/settings', {
      chatId: group.id,
      send: () => telegram.sendText(owner, '/settings', { chat: group }),
    });
    expect(await press(stranger, button(menu, 'Teacher').callback_data, menu)).toBe(
      'This button is for the person who asked.',
    );
    expect(current(menu).text).toContain('Answer style: Default');
    expect(await press(owner, 'set:garbage', menu)).toBe('That button no longer works.');
    expect(await press(owner, `set:${owner.id}:p:wizard`, menu)).toBe('That button no longer works.');
    expect(await press(owner, button(menu, 'Teacher').callback_data, menu)).toBe('Saved.');
    expect(crashRecords(bot)).toEqual([]);
  });
});

describe('/settings with Redis', () => {
  it("keeps the settings in Redis, in the user's own hash", async () => {
    const world = await startRedisBotWorld([FIRST_PROVIDER], { STREAM_REPLIES: 'false', RATE_LIMIT_PER_MINUTE: '0' });
    try {
      const user = { id: 8190, first_name: 'Redis', language_code: 'en' };
      const menu = await ask(world.telegram, user, '/settings');
      const teacher = buttonsOf(menu).find((candidate) => candidate.text === 'Teacher')!;
      const since = world.telegram.mark();
      world.telegram.sendCallbackQuery(user, teacher.callback_data, { message: menu });
      await world.telegram.waitForCall('answerCallbackQuery', undefined, { since, timeoutMs: 5000 });
      await ask(world.telegram, user, '/settings prompt Reply in haiku.');
      expect(await world.inspector.hgetall(`sb:settings:{${user.id}}`)).toEqual({ prompt: 'Reply in haiku.' });
      await ask(world.telegram, user, 'a question');
      expect(
        requestsEndingWith(world.providers, 'a question')[0]?.messages.find((message) => message.role === 'system')
          ?.content,
      ).toBe('Reply in haiku.');

      // Redis away (only with a redis-server of the suite's own to kill): answers go on, with the
      // settings this process read lately (its cache) or else the bot's defaults, and a press says
      // settings cannot be saved.
      if (process.env.TEST_REDIS_URL) return;
      await world.redis.kill();
      const systemPromptOf = (question: string): string | undefined =>
        requestsEndingWith(world.providers, question)[0]?.messages.find((message) => message.role === 'system')
          ?.content;
      expect((await ask(world.telegram, user, 'during the outage')).text).toBe('echo: during the outage');
      expect(systemPromptOf('during the outage')).toBe('Reply in haiku.');
      const newcomer = { id: 8191, first_name: 'Newcomer', language_code: 'en' };
      expect((await ask(world.telegram, newcomer, 'new here, Redis away')).text).toBe('echo: new here, Redis away');
      expect(systemPromptOf('new here, Redis away')).not.toBe('Reply in haiku.');
      const pressed = world.telegram.mark();
      const press = world.telegram.sendCallbackQuery(user, teacher.callback_data, { message: menu });
      const notice = await world.telegram.waitForCall(
        'answerCallbackQuery',
        (call) => call.params.callback_query_id === press.callback_query?.id,
        { since: pressed, timeoutMs: 10_000 },
      );
      expect(notice.params.text).toBe("I can't reach my settings storage right now. Please try again in a minute.");
      expect(crashRecords(world.bot)).toEqual([]);
    } finally {
      await world.stop();
    }
  });
});
