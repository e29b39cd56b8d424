/**
 * Kernels around a ViT's token sequence (shaders/patch*.wgsl). They cut images into patches
 * (the unfold of a P x P, stride-P convolution) and back, prepend the class token and add
 * position embeddings, and copy a range of tokens out of a sequence or back into one.
 *
 * Legend: B batch, C channels, H x W image, P patch size, N patches, T tokens, D features.
 */
import patchSource from '../../shaders/patch.wgsl';
import tokensSource from '../../shaders/patch_tokens.wgsl';
import { getEngine } from '../gpu/engine.ts';
import { Uniforms } from '../gpu/uniforms.ts';
import { Tensor, formatShape } from '../autograd/tensor.ts';

const WORKGROUP = 256;
const UNFOLD = 0;
const FOLD = 1;
const ASSEMBLE = 0;
const GATHER = 1;
const SCATTER = 2;

/** Checks an image batch [B, C, H, W] against the patch size; returns the patch grid. */
export function patchGrid(shape: readonly number[], patch: number): { batch: number; channels: number; height: number; width: number; patches: number } {
  if (shape.length !== 4) throw new Error(`patchify: images must be [batch, channels, height, width]; got ${formatShape(shape)}`);
  if (!Number.isInteger(patch) || patch < 1) throw new Error(`patchify: patch size must be a positive integer; got ${patch}`);
  const [batch, channels, height, width] = shape;
  if (height % patch !== 0 || width % patch !== 0) {
    throw new Error(`patchify: image ${height}x${width} (${formatShape(shape)}) is not a multiple of the patch size ${patch}; resize or crop it`);
  }
  return { batch, channels, height, width, patches: (height / patch) * (width / patch) };
}

function dispatchPatch(mode: number, src: Tensor, dst: Tensor, channels: number, height: number, width: number, patch: number): void {
  if (dst.size === 0) return;
  getEngine().dispatch({
    kernel: { family: 'patch', source: patchSource, defines: { MODE: mode, WORKGROUP } },
    bindings: [src.binding(), dst.binding()],
    uniforms: new Uniforms().u32(dst.size, channels, height, width, patch, 0, 0, 0).finish(),
    workgroups: Math.ceil(dst.size / WORKGROUP),
  });
}

/** Cuts images [B, C, H, W] into patches [B, N, C * P * P], each flattened as (c, ky, kx). */
export function unfoldPatches(images: Tensor, patch: number): Tensor {
  const g = patchGrid(images.shape, patch);
  const out = Tensor.empty([g.batch, g.patches, g.channels * patch * patch], 'f32', 'patches');
  dispatchPatch(UNFOLD, images, out, g.channels, g.height, g.width, patch);
  return out;
}

/** Inverts `unfoldPatches`: patches [B, N, C * P * P] back to images of `shape`. */
export function foldPatches(patches: Tensor, shape: readonly number[], patch: number): Tensor {
  const g = patchGrid(shape, patch);
  const expected = [g.batch, g.patches, g.channels * patch * patch];
  if (patches.rank !== 3 || patches.shape.some((d, i) => d !== expected[i])) {
    throw new Error(`foldPatches: patches ${formatShape(patches.shape)} do not match images ${formatShape(shape)} with patch ${patch} (expects ${formatShape(expected)})`);
  }
  const out = Tensor.empty(shape, 'f32', 'fold');
  dispatchPatch(FOLD, patches, out, g.channels, g.height, g.width, patch);
  return out;
}

function dispatchTokens(mode: number, src: Tensor, cls: Tensor, pos: Tensor, out: Tensor, tokensSrc: number, start: number): void {
  if (out.size === 0) return;
  const [, tokensOut, features] = out.shape;
  getEngine().dispatch({
    kernel: { family: 'patch_tokens', source: tokensSource, defines: { MODE: mode, WORKGROUP } },
    bindings: [src.binding(), cls.binding(), pos.binding(), out.binding()],
    uniforms: new Uniforms().u32(out.size, tokensOut, tokensSrc, features, start, 0, 0, 0).finish(),
    workgroups: Math.ceil(out.size / WORKGROUP),
  });
}

/**
 * Prepends the class token to patch embeddings and adds position embeddings:
 * emb [B, N, D], cls [1, 1, D], pos [1, N + 1, D] -> tokens [B, N + 1, D].
 */
export function assembleTokens(emb: Tensor, cls: Tensor, pos: Tensor): Tensor {
  if (emb.rank !== 3) throw new Error(`assembleTokens: embeddings must be [batch, patches, features]; got ${formatShape(emb.shape)}`);
  const [batch, patches, features] = emb.shape;
  if (cls.size !== features) {
    throw new Error(`assembleTokens: class token ${formatShape(cls.shape)} does not match embeddings ${formatShape(emb.shape)} (expects [1, 1, ${features}])`);
  }
  if (pos.size !== (patches + 1) * features) {
    throw new Error(
      `assembleTokens: position embedding ${formatShape(pos.shape)} does not match embeddings ${formatShape(emb.shape)} (expects [1, ${patches + 1}, ${features}])`,
    );
  }
  const out = Tensor.empty([batch, patches + 1, features], 'f32', 'tokens');
  dispatchTokens(ASSEMBLE, emb, cls, pos, out, patches, 0);
  return out;
}

function checkSequence(x: Tensor, op: string): [number, number, number] {
  if (x.rank !== 3) throw new Error(`${op}: expects a sequence [batch, tokens, features]; got ${x.name} ${formatShape(x.shape)}`);
  return x.shape as unknown as [number, number, number];
}

/** Copies tokens [start, start + count) of x [B, T, D] into a new [B, count, D]. */
export function gatherTokens(x: Tensor, start: number, count: number): Tensor {
  const [batch, tokens, features] = checkSequence(x, 'gatherTokens');
  if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > tokens) {
    throw new Error(`gatherTokens: range [${start}, ${start + count}) is outside the ${tokens} tokens of ${formatShape(x.shape)}`);
  }
  const out = Tensor.empty([batch, count, features], 'f32', 'tokens');
  dispatchTokens(GATHER, x, x, x, out, tokens, start);
  return out;
}

/** Places x [B, count, D] at tokens [start, start + count) of a new zero-filled [B, tokens, D]. */
export function scatterTokens(x: Tensor, start: number, tokens: number): Tensor {
  const [batch, count, features] = checkSequence(x, 'scatterTokens');
  if (!Number.isInteger(start) || start < 0 || start + count > tokens) {
    throw new Error(`scatterTokens: range [${start}, ${start + count}) does not fit in ${tokens} tokens`);
  }
  const out = Tensor.empty([batch, tokens, features], 'f32', 'tokens');
  dispatchTokens(SCATTER, x, x, x, out, count, start);
  return out;
}
