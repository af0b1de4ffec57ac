/** What MLX runs on and how much memory it holds. */
import { applyKernelChoice, type KernelChoice } from './blas-kernel.js';
import { native, type NativeBlasInfo } from './native.js';

export interface RuntimeInfo {
  mlxVersion: string;
  device: 'cpu' | 'gpu';
  metal: boolean;
  cuda: boolean;
  /** The BLAS MLX's CPU matmuls run on, with OpenBLAS's kernel and who chose it. */
  blas: NativeBlasInfo & { version: string | null; kernelChoice: KernelChoice };
}

export function runtime(): RuntimeInfo {
  const r = native().runtime();
  const version = /OpenBLAS\s+([\d.]+)/.exec(r.blas.config)?.[1] ?? null;
  return { ...r, blas: { ...r.blas, version, kernelChoice: applyKernelChoice() } };
}

/** One line for people: "OpenBLAS 0.3.34 kernel SkylakeX (chosen from the CPU's AVX-512 ...), 2 threads". */
export function describeBlas(b: RuntimeInfo['blas']): string {
  if (b.name !== 'OpenBLAS') return b.name === 'reference' ? `reference BLAS (slow) at ${b.library}` : b.name;
  const c = b.kernelChoice;
  const why = c.source === 'cpu-features' ? `chosen by mlx-lab from the CPU's ${c.reason}` : c.source === 'openblas' ? 'detected by OpenBLAS' : `from ${c.source}`;
  const asked = c.kernel && c.kernel.toLowerCase() !== b.corename.toLowerCase() ? `; ${c.kernel} was asked for` : '';
  return `OpenBLAS${b.version ? ` ${b.version}` : ''}, kernel ${b.corename} (${why}${asked}), ${b.threads} threads, ${b.library}`;
}

/** MLX allocator bytes: active now, peak since the last reset, and cached for reuse. */
export function memory(): { active: number; peak: number; cache: number } {
  return native().memory();
}
