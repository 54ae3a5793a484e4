import { Composer } from 'grammy';
import type { BotContext } from '../context';

/** `/export`: the conversation as a Markdown file (built in the next slice). */
export function exportFeature(): Composer<BotContext> {
  return new Composer<BotContext>();
}
