/**
 * The OpenBLAS kernel for this CPU, chosen before libmlx (and so OpenBLAS) loads. OpenBLAS picks
 * its kernel from the CPU model, and a release that does not know the model falls back to a
 * generic one: OpenBLAS 0.3.21 on an Intel Xeon with AVX-512 ran f32 sgemm at 69 GFLOP/s
 * ("Prescott") against 296 with OPENBLAS_CORETYPE=SkylakeX. The CPU's feature flags say which
 * kernel fits whatever the model, so we set OPENBLAS_CORETYPE from them unless the user did.
 * MLX_LAB_BLAS_KERNEL=openblas leaves the choice to OpenBLAS; any other value is used as given.
 */
import { readFileSync } from 'node:fs';

export interface CpuFeatures {
  vendor: string;
  flags: Set<string>;
}

export interface KernelChoice {
  /** The kernel name set in OPENBLAS_CORETYPE, or null when OpenBLAS detects it itself. */
  kernel: string | null;
  /** Who chose it. */
  source: 'OPENBLAS_CORETYPE' | 'MLX_LAB_BLAS_KERNEL' | 'cpu-features' | 'openblas';
  reason: string;
}

const AVX512 = ['avx512f', 'avx512bw', 'avx512vl', 'avx512dq', 'avx512cd'];

/** Vendor and feature flags of the first CPU in /proc/cpuinfo text; null when it has none. */
export function parseCpuinfo(text: string): CpuFeatures | null {
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(text)?.[1]?.trim();
  const flags = field('flags');
  if (!flags) return null;
  return { vendor: field('vendor_id') ?? 'unknown', flags: new Set(flags.split(/\s+/)) };
}

/** The OpenBLAS x86-64 kernel that the features support (its sgemm is what MLX uses), or null. */
export function fittingKernel(cpu: CpuFeatures): { kernel: string; because: string } | null {
  const has = (...f: string[]) => f.every((x) => cpu.flags.has(x));
  if (has(...AVX512)) return { kernel: 'SkylakeX', because: 'AVX-512 (F, BW, VL, DQ, CD)' };
  if (has('avx2', 'fma')) {
    return cpu.vendor === 'AuthenticAMD' ? { kernel: 'Zen', because: 'AVX2 + FMA on AMD' } : { kernel: 'Haswell', because: 'AVX2 + FMA' };
  }
  if (has('avx')) return { kernel: 'Sandybridge', because: 'AVX' };
  return null;
}

/** Decide the kernel from the environment and the CPU (pure: no side effect). */
export function chooseKernel(
  env: Record<string, string | undefined>,
  platform: string,
  arch: string,
  cpuinfo: () => string | null,
): KernelChoice {
  if (env.OPENBLAS_CORETYPE) return { kernel: env.OPENBLAS_CORETYPE, source: 'OPENBLAS_CORETYPE', reason: 'set in the environment' };
  const setting = env.MLX_LAB_BLAS_KERNEL ?? 'auto';
  if (setting === 'openblas') return { kernel: null, source: 'openblas', reason: 'MLX_LAB_BLAS_KERNEL=openblas: OpenBLAS detects the CPU' };
  if (setting !== 'auto') return { kernel: setting, source: 'MLX_LAB_BLAS_KERNEL', reason: 'set in the environment' };
  if (platform !== 'linux' || arch !== 'x64') return { kernel: null, source: 'openblas', reason: `no feature-based choice on ${platform}/${arch}` };
  const text = cpuinfo();
  const cpu = text === null ? null : parseCpuinfo(text);
  const fit = cpu && fittingKernel(cpu);
  if (!fit) return { kernel: null, source: 'openblas', reason: cpu ? 'no AVX: OpenBLAS detects the CPU' : 'no CPU flags readable' };
  return { kernel: fit.kernel, source: 'cpu-features', reason: fit.because };
}

let applied: KernelChoice | undefined;

/** Choose once and set OPENBLAS_CORETYPE for this process (before the addon loads). */
export function applyKernelChoice(): KernelChoice {
  if (applied) return applied;
  const readCpuinfo = () => {
    try {
      return readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      return null;
    }
  };
  applied = chooseKernel(process.env, process.platform, process.arch, readCpuinfo);
  if (applied.kernel && applied.source !== 'OPENBLAS_CORETYPE') process.env.OPENBLAS_CORETYPE = applied.kernel;
  return applied;
}
