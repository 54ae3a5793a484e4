import type { FinishEvent, StreamEvent } from '../../providers/types';

/** Drains a provider stream: the joined text deltas, the finish event, and the error if it threw. */
export async function collectStream(
  stream: AsyncIterable<StreamEvent>,
): Promise<{ text: string; deltas: string[]; finish: FinishEvent | undefined; error: unknown }> {
  const deltas: string[] = [];
  let finish: FinishEvent | undefined;
  try {
    for await (const event of stream) {
      if (event.type === 'text-delta') deltas.push(event.text);
      else finish = event;
    }
    return { text: deltas.join(''), deltas, finish, error: undefined };
  } catch (error) {
    return { text: deltas.join(''), deltas, finish, error };
  }
}

/** Awaits a promise expected to reject and returns what it rejected with. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject, but it resolved');
}
