// TransformerLens hook names for a model spec, their shapes, and validation of requested names.
import type { ModelSpec } from './spec.js';

export function layerHookNames(spec: ModelSpec, l: number): string[] {
  const b = `blocks.${l}`;
  const names = [
    `${b}.hook_resid_pre`, `${b}.ln1.hook_normalized`,
    `${b}.attn.hook_q`, `${b}.attn.hook_k`, `${b}.attn.hook_v`,
  ];
  if (spec.positional === 'rotary') names.push(`${b}.attn.hook_rot_q`, `${b}.attn.hook_rot_k`);
  names.push(`${b}.attn.hook_attn_scores`, `${b}.attn.hook_pattern`, `${b}.attn.hook_z`, `${b}.hook_attn_out`);
  if (!spec.parallelResidual) names.push(`${b}.hook_resid_mid`);
  names.push(`${b}.ln2.hook_normalized`, `${b}.mlp.hook_pre`, `${b}.mlp.hook_post`, `${b}.hook_mlp_out`, `${b}.hook_resid_post`);
  return names;
}

/** Every hook point of the model, in execution order. */
export function allHookNames(spec: ModelSpec): string[] {
  const names = ['hook_embed'];
  if (spec.positional === 'learned') names.push('hook_pos_embed');
  for (let l = 0; l < spec.nLayers; l++) names.push(...layerHookNames(spec, l));
  names.push('ln_final.hook_normalized');
  return names;
}

/** Parses `--hooks a,b` or `all`, rejecting unknown names with the list of valid ones. */
export function resolveHooks(spec: ModelSpec, request: string | string[] | undefined): string[] {
  if (!request || (Array.isArray(request) && request.length === 0)) return [];
  const all = allHookNames(spec);
  const items = (Array.isArray(request) ? request : request.split(',')).map((s) => s.trim()).filter(Boolean);
  if (items.length === 1 && items[0] === 'all') return all;
  const known = new Set(all);
  for (const name of items) {
    if (name === 'logits' || name === 'nll') continue;
    if (!known.has(name)) {
      throw new Error(`--hooks: unknown hook "${name}". Valid names: all, or ${all.slice(0, 3).join(', ')}, … (blocks.{0..${spec.nLayers - 1}}.…: ${layerHookNames(spec, 0).map((n) => n.replace('blocks.0.', '')).join(', ')}; ln_final.hook_normalized)`);
    }
  }
  return items.filter((n) => n !== 'logits' && n !== 'nll');
}

/** Output shape of a hook for a batch of B sequences of T tokens. */
export function hookShape(spec: ModelSpec, name: string, B: number, T: number): number[] {
  const { dModel: d, nHeads: H, dHead: dh, dMlp: m } = spec;
  if (/attn\.hook_(q|k|v|z|rot_q|rot_k)$/.test(name)) return [B, T, H, dh];
  if (/attn\.hook_(pattern|attn_scores)$/.test(name)) return [B, H, T, T];
  if (/mlp\.hook_(pre|post)$/.test(name)) return [B, T, m];
  return [B, T, d];
}
