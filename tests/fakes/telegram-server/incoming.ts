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

/** A file a user sent, as the fake keeps it for getFile and the download path. */
export interface FileRecord {
  readonly file_id: string;
  readonly file_unique_id: string;
  /** What getFile reports; may exceed the bytes kept (a huge file is described, never built). */
  readonly file_size: number;
  readonly file_path: string;
  readonly content: Buffer;
}

/** A small valid JPEG (a 1×1 white pixel): what a photo holds unless the test gives bytes. */
export const SAMPLE_JPEG = Buffer.from(
  '/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQkKDA8MCgsOCwkJDRENDg8QEBEQCgwSExIQEw8QEBD/yQALCAABAAEBAREA/8wABgAQEAX/2gAIAQEAAD8A0s8g/9k=',
  'base64',
);
/** The start of an OGG/Opus stream: what a voice note holds unless the test gives bytes. */
export const SAMPLE_OGG = Buffer.concat([Buffer.from('OggS', 'latin1'), Buffer.alloc(2_000, 1)]);

/** The media fields of a message and the files behind them. */
export interface IncomingMedia {
  readonly media: Partial<Message>;
  readonly files: readonly FileRecord[];
}

function fileRecord(kind: string, path: string, content: Buffer, size: number | undefined): FileRecord {
  const ids = fileIds(kind);
  return { ...ids, file_size: size ?? content.length, file_path: `${path}/file_${fileCounter}`, content };
}

/** A photo in two sizes (Telegram sends several; the last is the largest), each a file of its own. */
export function photoMedia(content: Buffer = SAMPLE_JPEG, fileSize?: number): IncomingMedia {
  const small = fileRecord('photo', 'photos', content, Math.min(content.length, 1200));
  const large = fileRecord('photo', 'photos', content, fileSize);
  return {
    media: {
      photo: [
        {
          file_id: small.file_id,
          file_unique_id: small.file_unique_id,
          width: 90,
          height: 90,
          file_size: small.file_size,
        },
        {
          file_id: large.file_id,
          file_unique_id: large.file_unique_id,
          width: 800,
          height: 800,
          file_size: large.file_size,
        },
      ],
    },
    files: [small, large],
  };
}

export function voiceMedia(
  duration: number,
  content: Buffer = SAMPLE_OGG,
  fileSize?: number,
  mimeType = 'audio/ogg',
): IncomingMedia {
  const file = fileRecord('voice', 'voice', content, fileSize);
  return {
    media: {
      voice: {
        file_id: file.file_id,
        file_unique_id: file.file_unique_id,
        duration,
        mime_type: mimeType,
        file_size: file.file_size,
      },
    },
    files: [file],
  };
}

/** The start of an MP4 file (an `ftyp` box): what a video note holds unless the test gives bytes. */
export const SAMPLE_MP4 = Buffer.concat([
  Buffer.from('0000001866747970', 'hex'),
  Buffer.from('isom', 'latin1'),
  Buffer.alloc(2_000, 2),
]);

/** A round video note (always MP4: Telegram gives it no type), `duration` seconds long. */
export function videoNoteMedia(duration: number, content: Buffer = SAMPLE_MP4, fileSize?: number): IncomingMedia {
  const file = fileRecord('video_note', 'video_notes', content, fileSize);
  return {
    media: {
      video_note: {
        file_id: file.file_id,
        file_unique_id: file.file_unique_id,
        length: 240,
        duration,
        file_size: file.file_size,
      },
    },
    files: [file],
  };
}

/** A video, `duration` seconds long, of `mimeType` (MP4 unless said). */
export function videoMedia(
  duration: number,
  content: Buffer = SAMPLE_MP4,
  fileSize?: number,
  mimeType = 'video/mp4',
): IncomingMedia {
  const file = fileRecord('video', 'videos', content, fileSize);
  return {
    media: {
      video: {
        file_id: file.file_id,
        file_unique_id: file.file_unique_id,
        width: 640,
        height: 360,
        duration,
        mime_type: mimeType,
        file_size: file.file_size,
      },
    },
    files: [file],
  };
}

export function documentMedia(
  fileName: string,
  mimeType: string,
  content: Buffer = Buffer.from('some notes\n'),
  fileSize?: number,
): IncomingMedia {
  const file = fileRecord('document', 'documents', content, fileSize);
  return {
    media: {
      document: {
        file_id: file.file_id,
        file_unique_id: file.file_unique_id,
        file_name: fileName,
        mime_type: mimeType,
        file_size: file.file_size,
      },
    },
    files: [file],
  };
}
