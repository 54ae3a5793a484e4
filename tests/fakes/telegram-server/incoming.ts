import type { Chat, Message, User } from 'grammy/types';
import type { ChannelInput, GroupChatInput, UserInput } from './types';

/** Builders for what users send: the Telegram objects an update carries. */

export function toUser(input: UserInput): User {
  return { is_bot: false, ...input };
}

export function privateChatOf(user: UserInput): Chat {
  return {
    id: user.id,
    type: 'private',
    first_name: user.first_name,
    ...(user.last_name !== undefined ? { last_name: user.last_name } : {}),
    ...(user.username !== undefined ? { username: user.username } : {}),
  };
}

export function groupChatOf(input: GroupChatInput): Chat {
  if (input.id >= 0) throw new Error(`a group chat id is negative; got ${input.id}`);
  const type = input.type ?? (String(input.id).startsWith('-100') ? 'supergroup' : 'group');
  return {
    id: input.id,
    type,
    title: input.title ?? 'Test group',
    ...(input.username !== undefined ? { username: input.username } : {}),
  } as Chat;
}

export function channelOf(input: ChannelInput | undefined): Chat {
  return {
    id: input?.id ?? -1001000000001,
    type: 'channel',
    title: input?.title ?? 'Test channel',
    ...(input?.username !== undefined ? { username: input.username } : {}),
  };
}

let fileCounter = 0;

/** file_id / file_unique_id pairs, unique within the process. */
function fileIds(kind: string): { file_id: string; file_unique_id: string } {
  fileCounter++;
  return { file_id: `fake-${kind}-${fileCounter}`, file_unique_id: `u-${kind}-${fileCounter}` };
}

export function stickerMedia(emoji: string): Partial<Message> {
  return {
    sticker: {
      ...fileIds('sticker'),
      type: 'regular',
      width: 512,
      height: 512,
      is_animated: false,
      is_video: false,
      emoji,
    },
  };
}

export function photoMedia(): Partial<Message> {
  const { file_unique_id } = fileIds('photo');
  return {
    photo: [
      { file_id: `${file_unique_id}-s`, file_unique_id: `${file_unique_id}-s`, width: 90, height: 90, file_size: 1200 },
      {
        file_id: `${file_unique_id}-m`,
        file_unique_id: `${file_unique_id}-m`,
        width: 800,
        height: 800,
        file_size: 64000,
      },
    ],
  };
}

export function voiceMedia(duration: number): Partial<Message> {
  return { voice: { ...fileIds('voice'), duration, mime_type: 'audio/ogg', file_size: duration * 2000 } };
}

export function documentMedia(fileName: string, mimeType: string): Partial<Message> {
  return { document: { ...fileIds('document'), file_name: fileName, mime_type: mimeType, file_size: 2048 } };
}
