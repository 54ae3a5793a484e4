import type { ChatMessage } from '../../providers';

/** The words an export is written with (the user's interface language). */
export interface ExportLabels {
  readonly title: string;
  /** The line under the title, given the export's date and time (`2026-12-03 06:45`). */
  readonly exported: (date: string) => string;
  readonly you: string;
  readonly assistant: string;
}

/**
 * A conversation as a Markdown document: a title, when it was exported, then each message under
 * who wrote it. Answers are Markdown already and go in as they are; the user's messages too (what
 * they typed is what they see). UTF-8 throughout, so Persian and other right-to-left text is kept
 * exactly as stored.
 */
export function conversationToMarkdown(messages: readonly ChatMessage[], labels: ExportLabels, now: number): string {
  const date = new Date(now).toISOString().slice(0, 16).replace('T', ' ');
  const parts = [`# ${labels.title}`, `_${labels.exported(date)}_`];
  for (const message of messages) {
    if (message.role === 'system') continue;
    parts.push(`**${message.role === 'user' ? labels.you : labels.assistant}:**`, message.content.trim());
  }
  return `${parts.join('\n\n')}\n`;
}

/** `conversation-2026-12-03.md` */
export function exportFileName(now: number): string {
  return `conversation-${new Date(now).toISOString().slice(0, 10)}.md`;
}
