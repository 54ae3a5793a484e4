import {
  type ChatMessage,
  type ConfiguredModel,
  type InputKind,
  type KeyLimits,
  MODEL_ROLES,
  type ModelCapabilities,
  type ModelRole,
  type Operation,
  type ProviderDescriptor,
  TEXT_CHAT,
} from '../types';

/**
 * Capabilities: which inputs a configured model takes and which operations it offers, and what a
 * request needs of a model. The router keeps only the models that can take every part of a
 * request (docs/architecture.md).
 */

/** What one request needs of a model. */
export interface Needs {
  readonly operation: Operation;
  /** Every kind of input in the request, `text` included when any message has text. */
  readonly inputs: ReadonlySet<InputKind>;
}

/** The kinds of input in `messages`: `text` for any text, and the kind of each media part. */
export function inputsOf(messages: readonly ChatMessage[]): Set<InputKind> {
  const kinds = new Set<InputKind>();
  for (const message of messages) {
    if (message.content !== '') kinds.add('text');
    for (const part of message.media ?? []) kinds.add(part.kind);
  }
  return kinds;
}

export function needsOf(messages: readonly ChatMessage[], operation: Operation = 'chat'): Needs {
  return { operation, inputs: inputsOf(messages) };
}

/** Whether a model with `capabilities` can do what `needs` asks, with every part of the request. */
export function canServe(capabilities: ModelCapabilities, needs: Needs): boolean {
  if (!capabilities.operations.includes(needs.operation)) return false;
  for (const kind of needs.inputs) if (!capabilities.inputs.includes(kind)) return false;
  return true;
}

/** Whether a request needs more than text chat (media, or another operation). */
export function needsMedia(needs: Needs): boolean {
  if (needs.operation !== 'chat') return true;
  for (const kind of needs.inputs) if (kind !== 'text') return true;
  return false;
}

/** The union of two capability sets. */
export function mergeCapabilities(left: ModelCapabilities, right: ModelCapabilities): ModelCapabilities {
  return {
    operations: [...new Set([...left.operations, ...right.operations])],
    inputs: [...new Set([...left.inputs, ...right.inputs])],
  };
}

/** A role's model as the operator chose it: unset (the default), switched off (`null`), or an id. */
export type RoleChoice = string | null | undefined;

/** The models of one configured provider: its chat model's capabilities and its other models. */
export interface ProviderModels {
  readonly capabilities: ModelCapabilities;
  readonly extraModels: readonly ConfiguredModel[];
}

/**
 * Resolves each role to a model: the operator's choice, else the descriptor's default, else the
 * chat model when the descriptor says its chat model plays the role. A role played by the chat
 * model adds its capabilities to the chat model's; roles that name one other model share it (one
 * model, one quota).
 */
export function resolveModels(
  descriptor: ProviderDescriptor,
  chat: { readonly model: string; readonly limits: KeyLimits },
  choices: Readonly<Partial<Record<ModelRole, RoleChoice>>> = {},
): ProviderModels {
  let capabilities = descriptor.chatCapabilities ?? TEXT_CHAT;
  const extra = new Map<string, { -readonly [K in keyof ConfiguredModel]: ConfiguredModel[K] }>();
  for (const role of MODEL_ROLES) {
    const offer = descriptor.roles?.[role];
    const choice = choices[role];
    if (choice === null || (offer === undefined && choice === undefined)) continue;
    const offered: ModelCapabilities = offer ?? defaultCapabilities(role);
    const model = choice ?? offer?.defaultModel ?? chat.model;
    if (model === chat.model) {
      capabilities = mergeCapabilities(capabilities, offered);
      continue;
    }
    const known = extra.get(model);
    if (known !== undefined) {
      const merged = mergeCapabilities(known, offered);
      known.operations = merged.operations;
      known.inputs = merged.inputs;
      known.roles = [...known.roles, role];
      continue;
    }
    extra.set(model, {
      model,
      roles: [role],
      operations: offered.operations,
      inputs: offered.inputs,
      contextWindowTokens: offer?.contextWindowTokens ?? descriptor.contextWindowTokens,
      limits: offer?.defaultLimits ?? chat.limits,
      ...(offer?.sharedQuota === true ? { sharedQuota: true } : {}),
    });
  }
  return { capabilities, extraModels: [...extra.values()] };
}

/** What a model named for a role the descriptor does not offer is trusted to do. */
function defaultCapabilities(role: ModelRole): ModelCapabilities {
  return role === 'vision'
    ? { operations: ['chat'], inputs: ['text', 'image'] }
    : { operations: ['transcription'], inputs: ['audio'] };
}

/** Every operation and input the configured models of a pool cover, for the start-up line. */
export function poolCapabilities(
  providers: readonly {
    readonly capabilities?: ModelCapabilities;
    readonly extraModels?: readonly ModelCapabilities[];
  }[],
): ModelCapabilities {
  let all: ModelCapabilities = { operations: [], inputs: [] };
  for (const provider of providers) {
    all = mergeCapabilities(all, provider.capabilities ?? TEXT_CHAT);
    for (const model of provider.extraModels ?? []) all = mergeCapabilities(all, model);
  }
  return all;
}
