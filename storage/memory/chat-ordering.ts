import { TurnWaiters } from '../turn-waiters';
import type { ChatOrdering, ChatTicket } from '../types';

/**
 * Chat order within one process (no Redis, or Redis away): tickets and served numbers per chat,
 * forgotten once a chat has nothing in flight, so memory stays bounded by the chats in flight.
 */
export class MemoryChatOrdering implements ChatOrdering {
  private readonly lines = new Map<string, { next: number; served: number }>();
  private readonly waiters = new TurnWaiters();

  async take(chatId: string): Promise<ChatTicket> {
    const line = this.lines.get(chatId) ?? { next: 0, served: 0 };
    line.next += 1;
    this.lines.set(chatId, line);
    return { chatId, number: line.next };
  }

  async waitForTurn(ticket: ChatTicket, maxWaitMs: number): Promise<'turn' | 'gave-up'> {
    const line = this.lines.get(ticket.chatId);
    if (line === undefined || line.served >= ticket.number - 1) return 'turn';
    const outcome = await this.waiters.wait(ticket, maxWaitMs, line.served);
    if (outcome === 'gave-up') this.markServed(ticket.chatId, ticket.number - 1);
    return outcome;
  }

  /** The chat's highest ticket done so far (0 for a chat with nothing in line). */
  servedUpTo(chatId: string): number {
    return this.lines.get(chatId)?.served ?? 0;
  }

  async done(ticket: ChatTicket): Promise<void> {
    this.markServed(ticket.chatId, ticket.number);
  }

  /** served = max(served, number), never past the last ticket taken. */
  private markServed(chatId: string, number: number): void {
    const line = this.lines.get(chatId);
    if (line === undefined) return;
    line.served = Math.max(line.served, Math.min(number, line.next));
    this.waiters.learn(chatId, line.served);
    if (line.served >= line.next && !this.waiters.has(chatId)) this.lines.delete(chatId);
  }
}
