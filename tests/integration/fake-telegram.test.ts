import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Bot, GrammyError, HttpError, InputFile, webhookCallback } from 'grammy';
import { type FakeTelegramServer, startFakeTelegramServer, telegramErrors } from '../fakes/telegram-server';
import { rejectionOf } from '../helpers/streams';

const alice = { id: 1001, first_name: 'Alice', language_code: 'en' };
const bob = { id: 1002, first_name: 'Bob', language_code: 'fa' };
const group = { id: -1001234567890, title: 'Testers' };

/** Awaits a rejection and checks it is the Bot API error grammY builds from Telegram's answer. */
async function grammyErrorOf(promise: Promise<unknown>): Promise<GrammyError> {
  const error = await rejectionOf(promise);
  expect(error).toBeInstanceOf(GrammyError);
  return error as GrammyError;
}

describe('fake Telegram Bot API, driven by a real grammY Bot', () => {
  let server: FakeTelegramServer;
  let bot: Bot;

  beforeAll(async () => {
    server = await startFakeTelegramServer();
  });
  afterAll(() => server.stop());
  beforeEach(() => {
    server.reset();
    bot = new Bot(server.token, { client: { apiRoot: server.apiRoot }, botInfo: server.botInfo });
  });

  describe('the wire', () => {
    it('answers getMe for the right token and 401 Unauthorized for any other', async () => {
      const me = await bot.api.getMe();
      expect(me).toMatchObject({ id: 1234567, is_bot: true, username: 'switchboard_test_bot' });

      const stranger = new Bot('987654321:not-the-token', { client: { apiRoot: server.apiRoot } });
      const error = await grammyErrorOf(stranger.api.getMe());
      expect([error.error_code, error.description]).toEqual([401, 'Unauthorized']);
    });

    it('answers an unknown method with 404 "Not Found: method not found" and records it', async () => {
      const raw = bot.api.raw as unknown as Record<string, (payload: object) => Promise<unknown>>;
      const error = await grammyErrorOf(raw.sendTelepathy?.({ chat_id: alice.id }) ?? Promise.resolve());
      expect([error.error_code, error.description]).toEqual([404, 'Not Found: method not found']);
      expect(server.calls.at(-1)).toMatchObject({ method: 'sendTelepathy', status: 404, ok: false });
    });

    it('reads multipart bodies too (grammY switches to them whenever a file is attached)', async () => {
      server.sendText(alice, 'hi');
      const sent = await bot.api.sendDocument(alice.id, new InputFile(Buffer.from('abc'), 'a.txt'), { caption: 'x' });
      const params = server.calls.at(-1)?.params ?? {};
      expect(params).toMatchObject({
        chat_id: String(alice.id),
        caption: 'x',
        document: expect.stringMatching(/^attach:\/\//),
      });
      expect(Object.values(params)).toContainEqual({
        filename: 'a.txt',
        contentType: 'application/octet-stream',
        size: 3,
        content: Buffer.from('abc'),
      });
      expect(sent.document).toMatchObject({ file_name: 'a.txt', file_size: 3 });
      expect(sent.caption).toBe('x');
    });

    it('keeps the bytes of each document sent, Persian text intact, and refuses a call without one', async () => {
      server.sendText(alice, 'hi');
      const text = '# گفت‌وگو\n\nسلام — hello ‏(RTL) 👋\n';
      await bot.api.sendDocument(alice.id, new InputFile(Buffer.from(text, 'utf8'), 'chat.markdown'));
      const [document] = server.documentsIn(alice.id).slice(-1);
      expect(document).toMatchObject({ fileName: 'chat.markdown', caption: '' });
      expect(document?.content.toString('utf8')).toBe(text);
      expect(server.transcript(alice.id).at(-1)).toMatchObject({ kind: 'document', fromBot: true });

      const error = await grammyErrorOf(bot.api.sendDocument(alice.id, 'attach://nothing'));
      expect(error.description).toBe('Bad Request: there is no document in the request');
      const long = await grammyErrorOf(
        bot.api.sendDocument(alice.id, new InputFile(Buffer.from('x'), 'x.txt'), { caption: 'c'.repeat(1025) }),
      );
      expect(long.description).toBe('Bad Request: message caption is too long');
    });
  });

  describe('getUpdates', () => {
    it('returns updates from the offset on, and an offset confirms (drops) every older one', async () => {
      const first = server.sendText(alice, 'one');
      const second = server.sendText(alice, 'two');
      const third = server.sendText(bob, 'three');

      expect((await bot.api.getUpdates()).map((update) => update.update_id)).toEqual([
        first.update_id,
        second.update_id,
        third.update_id,
      ]);
      expect(server.updatesConfirmed()).toBe(0);

      const fromSecond = await bot.api.getUpdates({ offset: second.update_id, limit: 1 });
      expect(fromSecond.map((update) => update.message?.text)).toEqual(['two']);
      expect(server.updatesConfirmed()).toBe(second.update_id);
      // Without an offset, the confirmed update does not come back.
      expect((await bot.api.getUpdates()).map((update) => update.message?.text)).toEqual(['two', 'three']);

      // A negative offset keeps only the last -offset updates.
      expect((await bot.api.getUpdates({ offset: -1 })).map((update) => update.message?.text)).toEqual(['three']);
      expect(server.pendingUpdates().map((update) => update.update_id)).toEqual([third.update_id]);
    });

    it('holds a long poll open until an update arrives, then answers at once', async () => {
      const poll = bot.api.getUpdates({ timeout: 30 });
      await server.waitForPolling();
      expect(server.isPolling).toBe(true);

      const injected = server.sendText(alice, 'wake up');
      const updates = await poll;
      expect(updates.map((update) => update.update_id)).toEqual([injected.update_id]);
      expect(server.isPolling).toBe(false);
    });

    it('gives a held poll 409 Conflict when a second getUpdates comes in, as Telegram does', async () => {
      const first = bot.api.getUpdates({ timeout: 30 });
      await server.waitForPolling();
      const second = bot.api.getUpdates({ timeout: 0 });

      const error = await grammyErrorOf(first);
      expect(error.error_code).toBe(409);
      expect(error.description).toBe(telegramErrors.terminatedByOtherGetUpdates().description);
      expect(await second).toEqual([]);
    });

    it('releases a held poll promptly when the server stops', async () => {
      const own = await startFakeTelegramServer();
      const ownBot = new Bot(own.token, { client: { apiRoot: own.apiRoot } });
      const poll = ownBot.api.getUpdates({ timeout: 30 });
      await own.waitForPolling();

      const started = Date.now();
      await own.stop();
      expect(await rejectionOf(poll)).toBeInstanceOf(HttpError);
      expect(Date.now() - started).toBeLessThan(1000);
    });
  });

  describe('Telegram rules on sent text', () => {
    beforeEach(() => {
      server.sendText(alice, 'hi'); // makes the chat known
    });

    it('accepts 4096 characters and refuses 4097 with "message is too long"', async () => {
      await bot.api.sendMessage(alice.id, 'a'.repeat(4096));
      const error = await grammyErrorOf(bot.api.sendMessage(alice.id, 'a'.repeat(4097)));
      expect([error.error_code, error.description]).toEqual([400, 'Bad Request: message is too long']);
    });

    it('counts the limit after entity parsing, in UTF-16 code units', async () => {
      await bot.api.sendMessage(alice.id, `<b>${'a'.repeat(4096)}</b>`, { parse_mode: 'HTML' });
      // 2049 emoji are 4098 UTF-16 code units.
      const error = await grammyErrorOf(bot.api.sendMessage(alice.id, '😀'.repeat(2049)));
      expect(error.description).toBe('Bad Request: message is too long');
    });

    it('refuses empty text, including text that is empty once tags and whitespace are gone', async () => {
      for (const [text, parseMode] of [
        ['   \n ', undefined],
        ['<b> </b>', 'HTML'],
      ] as const) {
        const error = await grammyErrorOf(
          bot.api.sendMessage(alice.id, text, parseMode ? { parse_mode: parseMode } : {}),
        );
        expect(error.description).toBe('Bad Request: message text is empty');
      }
    });

    it('refuses HTML Telegram cannot parse, with its error text and byte offset', async () => {
      const unsupported = await grammyErrorOf(
        bot.api.sendMessage(alice.id, 'Hello, world<script>alert(1)</script>', { parse_mode: 'HTML' }),
      );
      expect([unsupported.error_code, unsupported.description]).toEqual([
        400,
        `Bad Request: can't parse entities: Unsupported start tag "script" at byte offset 12`,
      ]);

      const unclosed = await grammyErrorOf(bot.api.sendMessage(alice.id, '<b>bold', { parse_mode: 'HTML' }));
      expect(unclosed.description).toBe(
        `Bad Request: can't parse entities: Can't find end tag corresponding to start tag "b"`,
      );
      expect(server.messagesIn(alice.id)).toEqual([]);
    });

    it('stores what the user sees: visible text and entities, with the HTML as sent', async () => {
      const sent = await bot.api.sendMessage(alice.id, '<b>bold</b> &amp; <i>it</i>', { parse_mode: 'HTML' });
      expect(sent.text).toBe('bold & it');
      const [stored] = server.messagesIn(alice.id);
      expect(stored).toMatchObject({
        message_id: sent.message_id,
        text: 'bold & it',
        sourceText: '<b>bold</b> &amp; <i>it</i>',
        parseMode: 'HTML',
        entities: [
          { type: 'bold', offset: 0, length: 4 },
          { type: 'italic', offset: 7, length: 2 },
        ],
      });
    });

    it('refuses a reply to a missing message unless told to send without it', async () => {
      const missing = await grammyErrorOf(
        bot.api.sendMessage(alice.id, 'answer', { reply_parameters: { message_id: 999 } }),
      );
      expect(missing.description).toBe('Bad Request: message to be replied not found');

      const question = server.transcript(alice.id)[0];
      const reply = await bot.api.sendMessage(alice.id, 'answer', {
        reply_parameters: { message_id: question?.message_id ?? 0 },
      });
      expect(reply.reply_to_message?.text).toBe('hi');
      const loose = await bot.api.sendMessage(alice.id, 'answer', {
        reply_parameters: { message_id: 999, allow_sending_without_reply: true },
      });
      expect(loose.reply_to_message).toBeUndefined();
    });

    it('answers "chat not found" for a chat it has never seen', async () => {
      const error = await grammyErrorOf(bot.api.sendMessage(424242, 'hello?'));
      expect(error.description).toBe('Bad Request: chat not found');
    });
  });

  describe('editing', () => {
    beforeEach(() => {
      server.sendText(alice, 'hi');
    });

    it('refuses an edit that changes nothing with "message is not modified"', async () => {
      const sent = await bot.api.sendMessage(alice.id, '<b>Thinking</b>', { parse_mode: 'HTML' });
      // The same bold text written differently is still the same content.
      const error = await grammyErrorOf(
        bot.api.editMessageText(alice.id, sent.message_id, '<strong>Thinking</strong>', { parse_mode: 'HTML' }),
      );
      expect([error.error_code, error.description]).toEqual([400, telegramErrors.messageNotModified().description]);
      expect(error.description).toBe(
        'Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message',
      );
    });

    it('applies a real edit, keeping the history of texts', async () => {
      const sent = await bot.api.sendMessage(alice.id, 'Thinking…');
      await bot.api.editMessageText(alice.id, sent.message_id, 'The answer is 42');
      const [stored] = server.messagesIn(alice.id);
      expect(stored).toMatchObject({ text: 'The answer is 42', previousTexts: ['Thinking…'] });
      expect(stored?.editDate).toEqual(expect.any(Number));
    });

    it('counts a changed inline keyboard as a modification', async () => {
      const keyboard = { inline_keyboard: [[{ text: 'Retry', callback_data: 'retry' }]] };
      const sent = await bot.api.sendMessage(alice.id, 'Failed', { reply_markup: keyboard });
      await bot.api.editMessageText(alice.id, sent.message_id, 'Failed'); // drops the keyboard
      expect(server.messagesIn(alice.id)[0]?.replyMarkup).toBeUndefined();
      const again = await grammyErrorOf(bot.api.editMessageText(alice.id, sent.message_id, 'Failed'));
      expect(again.description).toMatch(/^Bad Request: message is not modified/);
    });

    it('refuses to edit a message that does not exist, or one the user sent', async () => {
      const missing = await grammyErrorOf(bot.api.editMessageText(alice.id, 999, 'x'));
      expect(missing.description).toBe('Bad Request: message to edit not found');

      const usersOwn = server.transcript(alice.id)[0];
      const notOurs = await grammyErrorOf(bot.api.editMessageText(alice.id, usersOwn?.message_id ?? 0, 'x'));
      expect(notOurs.description).toBe("Bad Request: message can't be edited");
    });

    it('forgets deleted messages', async () => {
      const sent = await bot.api.sendMessage(alice.id, 'oops');
      await bot.api.deleteMessage(alice.id, sent.message_id);
      expect(server.messagesIn(alice.id)).toEqual([]);
      const again = await grammyErrorOf(bot.api.deleteMessage(alice.id, sent.message_id));
      expect(again.description).toBe('Bad Request: message to delete not found');
    });
  });

  describe('sendMessageDraft (Bot API 9.3)', () => {
    it('streams drafts in private chats and records each one', async () => {
      server.sendText(alice, 'hi');
      expect(await bot.api.sendMessageDraft(alice.id, 7, 'The ans')).toBe(true);
      expect(await bot.api.sendMessageDraft(alice.id, 7, '<b>The answer</b>', { parse_mode: 'HTML' })).toBe(true);
      expect(server.drafts(alice.id).map((draft) => [draft.draftId, draft.text])).toEqual([
        [7, 'The ans'],
        [7, 'The answer'],
      ]);
      // A draft is a preview, not a message.
      expect(server.messagesIn(alice.id)).toEqual([]);
    });

    it('refuses group chats and a zero draft_id', async () => {
      server.sendText(alice, 'hi all', { chat: group });
      const inGroup = await grammyErrorOf(bot.api.sendMessageDraft(group.id, 7, 'x'));
      expect([inGroup.error_code, inGroup.description]).toEqual([400, 'Bad Request: TEXTDRAFT_PEER_INVALID']);

      server.sendText(alice, 'hi');
      const zero = await grammyErrorOf(bot.api.sendMessageDraft(alice.id, 0, 'x'));
      expect(zero.error_code).toBe(400);
      expect(server.drafts(alice.id)).toEqual([]);
    });
  });

  describe('flood control and failures on demand', () => {
    beforeEach(() => {
      server.sendText(alice, 'hi');
    });

    it('answers a scripted 429 that grammY surfaces as GrammyError with parameters.retry_after', async () => {
      server.failNext('sendMessage', telegramErrors.tooManyRequests(3));
      const error = await grammyErrorOf(bot.api.sendMessage(alice.id, 'first'));
      expect(error.error_code).toBe(429);
      expect(error.description).toBe('Too Many Requests: retry after 3');
      expect(error.parameters.retry_after).toBe(3);
      expect(server.messagesIn(alice.id)).toEqual([]);

      // Only the next call failed.
      await bot.api.sendMessage(alice.id, 'second');
      expect(server.messagesIn(alice.id).map((message) => message.text)).toEqual(['second']);
    });

    it('fails the next N calls with a 5xx, a proxy page or a dropped connection', async () => {
      server.failNext('sendMessage', telegramErrors.internalServerError(), 2);
      expect((await grammyErrorOf(bot.api.sendMessage(alice.id, 'a'))).error_code).toBe(500);
      expect((await grammyErrorOf(bot.api.sendMessage(alice.id, 'b'))).error_code).toBe(500);

      server.failNext('sendMessage', { status: 502, body: '<html>502 Bad Gateway</html>' });
      expect(await rejectionOf(bot.api.sendMessage(alice.id, 'c'))).toBeInstanceOf(HttpError);

      server.failNext('sendMessage', { drop: true });
      expect(await rejectionOf(bot.api.sendMessage(alice.id, 'd'))).toBeInstanceOf(HttpError);
      expect(server.calls.at(-1)?.status).toBe('dropped');

      // The answer lost after the message went out: the message is there all the same.
      server.failNext('sendMessage', { drop: true, afterEffect: true });
      expect(await rejectionOf(bot.api.sendMessage(alice.id, 'e'))).toBeInstanceOf(HttpError);
      expect(server.messagesIn(alice.id).map((message) => message.text)).toEqual(['e']);
    });

    it('limits messages per chat when flood control is on, with retry_after until the window frees', async () => {
      let time = Date.UTC(2026, 0, 1);
      const own = await startFakeTelegramServer({ now: () => time });
      try {
        const ownBot = new Bot(own.token, { client: { apiRoot: own.apiRoot }, botInfo: own.botInfo });
        own.sendText(alice, 'hi');
        own.sendText(bob, 'hi');
        own.enableFloodControl({ perChat: { limit: 2, windowMs: 10_000 } });

        await ownBot.api.sendMessage(alice.id, '1');
        time += 4_000;
        await ownBot.api.sendMessage(alice.id, '2');
        const error = await grammyErrorOf(ownBot.api.sendMessage(alice.id, '3'));
        expect([error.error_code, error.parameters.retry_after]).toEqual([429, 6]);
        // Another chat has its own window.
        await ownBot.api.sendMessage(bob.id, '1');

        time += 6_000;
        await ownBot.api.sendMessage(alice.id, '3');
        expect(own.messagesIn(alice.id).map((message) => message.text)).toEqual(['1', '2', '3']);
      } finally {
        await own.stop();
      }
    });
  });

  describe('waitFor', () => {
    it('resolves on the matching call when it comes', async () => {
      server.sendText(alice, 'hi');
      const awaited = server.waitForCall('sendMessage', (call) => call.params.text === 'second');
      await bot.api.sendMessage(alice.id, 'first');
      await bot.api.sendMessage(alice.id, 'second');
      expect((await awaited).params).toMatchObject({ chat_id: alice.id, text: 'second' });
    });

    it('finds calls made before it was called when given a mark', async () => {
      server.sendText(alice, 'hi');
      const mark = server.mark();
      await bot.api.sendMessage(alice.id, 'already sent');
      const call = await server.waitForCall('sendMessage', undefined, { since: mark });
      expect(call.params.text).toBe('already sent');
    });

    it('rejects after the timeout, listing the recent calls', async () => {
      server.sendText(alice, 'hi');
      await bot.api.sendChatAction(alice.id, 'typing');
      const error = await rejectionOf(server.waitForCall('sendMessage', undefined, 50));
      expect(String(error)).toContain('waited 50 ms for a sendMessage call');
      expect(String(error)).toMatch(/#\d+ sendChatAction\(chat_id=1001 action="typing"\) → 200 ok/);
    });
  });

  describe('injected updates', () => {
    it('have the shapes grammY filters expect: media, commands, edits, channel posts', async () => {
      const seen: string[] = [];
      bot.command('translate', (ctx) => seen.push(`command ${ctx.match}`));
      bot.on('message:sticker', (ctx) => seen.push(`sticker ${ctx.message.sticker.emoji}`));
      bot.on('message:photo', (ctx) => seen.push(`photo ${ctx.message.caption}`));
      bot.on('message:voice', (ctx) => seen.push(`voice ${ctx.message.voice.duration}s`));
      bot.on('message:document', (ctx) => seen.push(`document ${ctx.message.document.file_name}`));
      bot.on('edited_message:text', (ctx) => seen.push(`edited ${ctx.editedMessage.text}`));
      bot.on('channel_post:text', (ctx) => seen.push(`channel ${ctx.channelPost.text}`));
      bot.on('message:entities:mention', (ctx) => seen.push(`mention in ${ctx.chat.type}`));

      const original = server.sendText(alice, '/translate fa');
      server.sendSticker(alice, { emoji: '🙂' });
      server.sendPhoto(alice, { caption: 'look' });
      server.sendVoice(bob, { duration: 4 });
      server.sendDocument(bob, { fileName: 'lines.txt' });
      server.editText(original.message as NonNullable<typeof original.message>, '/translate de');
      server.channelPost('news');
      server.sendText(alice, `hey @${server.botInfo.username}`, { chat: group });
      for (const update of server.pendingUpdates()) await bot.handleUpdate(update);

      expect(seen).toEqual([
        'command fa',
        'sticker 🙂',
        'photo look',
        'voice 4s',
        'document lines.txt',
        'edited /translate de',
        'channel news',
        'mention in supergroup',
      ]);
      expect(server.transcript(alice.id)[0]).toMatchObject({ text: '/translate de', previousTexts: ['/translate fa'] });
    });
  });

  describe('a grammY bot on long polling', () => {
    it('receives an injected message, replies, and confirms the update on its next poll', async () => {
      bot.command('start', (ctx) => ctx.reply(`Welcome, ${ctx.from?.first_name}!`));
      bot.on('message:text', (ctx) => ctx.reply(`echo: ${ctx.message.text}`, { parse_mode: 'HTML' }));
      const running = bot.start({ timeout: 30 });
      await server.waitForPolling();

      const update = server.sendText(alice, 'hello there');
      const reply = await server.waitForMessage(alice.id);
      expect(reply).toMatchObject({ text: 'echo: hello there', replyToMessageId: undefined });

      // In a group, /start@botname is a bot command addressed to this bot.
      server.sendText(alice, `/start@${server.botInfo.username}`, { chat: group });
      expect((await server.waitForMessage(group.id)).text).toBe('Welcome, Alice!');

      await server.waitForPolling();
      expect(server.updatesConfirmed()).toBeGreaterThan(update.update_id);
      await bot.stop();
      await running;

      const polls = server.callsTo('getUpdates');
      expect(polls[0]?.params).toMatchObject({ offset: 1, timeout: 30, allowed_updates: [] });
      expect(server.callsTo('deleteWebhook')).toHaveLength(1);
      expect(server.pendingUpdates()).toEqual([]);
    });
  });

  describe('webhook mode', () => {
    let hook: Server;
    let hookUrl: string;

    beforeEach(async () => {
      bot.on('message:text', (ctx) => ctx.reply(`hooked: ${ctx.message.text}`));
      hook = createServer(webhookCallback(bot, 'http', { secretToken: 'hook-secret' }));
      await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', () => resolve()));
      hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/telegram`;
    });
    afterEach(() => new Promise<void>((resolve) => hook.close(() => resolve())));

    it('records setWebhook, refuses getUpdates meanwhile, and delivers updates with the secret header', async () => {
      expect(await bot.api.setWebhook('https://bot.example.com/telegram', { secret_token: 'hook-secret' })).toBe(true);
      expect(server.webhook).toMatchObject({ url: 'https://bot.example.com/telegram', secretToken: 'hook-secret' });
      expect((await bot.api.getWebhookInfo()).url).toBe('https://bot.example.com/telegram');
      expect((await grammyErrorOf(bot.api.getUpdates())).error_code).toBe(409);

      const update = server.sendText(alice, 'ping');
      expect(server.pendingUpdates()).toHaveLength(1);
      const mark = server.mark();
      // grammY answers the webhook after its handler ran, so the reply is already recorded here.
      expect(await server.deliverWebhook(hookUrl, update)).toBe(200);
      expect((await server.waitForMessage(alice.id, undefined, { since: mark })).text).toBe('hooked: ping');
      expect(server.pendingUpdates()).toEqual([]);

      expect(await server.deliverWebhook(hookUrl, server.sendText(alice, 'x'), 'wrong')).toBe(401);
      expect(await server.deliverWebhook(hookUrl, server.sendText(alice, 'y'), null)).toBe(401);
    });

    it('refuses a webhook that is not HTTPS on an allowed port', async () => {
      const http = await grammyErrorOf(bot.api.setWebhook('http://127.0.0.1:8080/hook'));
      expect(http.description).toBe('Bad Request: bad webhook: An HTTPS URL must be provided for webhook');
      const port = await grammyErrorOf(bot.api.setWebhook('https://bot.example.com:3000/hook'));
      expect(port.description).toBe(
        'Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443',
      );
      expect(server.webhook).toBeUndefined();
    });
  });

  describe('other methods the bot calls', () => {
    it('keeps commands per scope and language', async () => {
      await bot.api.setMyCommands([{ command: 'help', description: 'How to use me' }]);
      await bot.api.setMyCommands([{ command: 'help', description: 'راهنما' }], { language_code: 'fa' });
      await bot.api.setMyCommands([{ command: 'stats', description: 'Usage' }], {
        scope: { type: 'chat', chat_id: alice.id },
      });

      expect(await bot.api.getMyCommands()).toEqual([{ command: 'help', description: 'How to use me' }]);
      expect(await bot.api.getMyCommands({ language_code: 'fa' })).toEqual([
        { command: 'help', description: 'راهنما' },
      ]);
      expect(server.commands({ scope: { type: 'chat', chat_id: alice.id } })).toEqual([
        { command: 'stats', description: 'Usage' },
      ]);
      const invalid = await grammyErrorOf(bot.api.setMyCommands([{ command: 'Bad-Name', description: 'x' }]));
      expect(invalid.description).toBe('Bad Request: BOT_COMMAND_INVALID');
    });

    it('accepts chat actions, reactions and one answer per callback query', async () => {
      const update = server.sendText(alice, 'hi');
      expect(await bot.api.sendChatAction(alice.id, 'typing')).toBe(true);
      expect(server.chatActions(alice.id)).toEqual(['typing']);
      const badAction = await grammyErrorOf(bot.api.sendChatAction(alice.id, 'dancing' as 'typing'));
      expect(badAction.error_code).toBe(400);

      const messageId = update.message?.message_id ?? 0;
      expect(await bot.api.setMessageReaction(alice.id, messageId, [{ type: 'emoji', emoji: '👍' }])).toBe(true);

      const press = server.sendCallbackQuery(alice, 'retry');
      const queryId = press.callback_query?.id ?? '';
      expect(await bot.api.answerCallbackQuery(queryId, { text: 'Retrying' })).toBe(true);
      const twice = await grammyErrorOf(bot.api.answerCallbackQuery(queryId));
      expect(twice.description).toBe(
        'Bad Request: query is too old and response timeout expired or query ID is invalid',
      );
    });

    it('tells the bot a user blocked it', async () => {
      server.sendText(bob, 'bye');
      server.setBlocked(bob.id);
      const error = await grammyErrorOf(bot.api.sendMessage(bob.id, 'wait!'));
      expect([error.error_code, error.description]).toEqual([403, 'Forbidden: bot was blocked by the user']);
    });
  });
});
