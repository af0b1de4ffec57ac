// The BLAS the addon runs on, as loaded: `npm install` links a fast OpenBLAS (the system's or the
// bundled one) unless MLX_LAB_BLAS=reference, and OpenBLAS runs the kernel that was chosen for
// this CPU. Kernel choice with other settings runs in child processes (it must precede the load).
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { describeBlas, runtime } from '../../src/core/runtime.js';

const linux = process.platform === 'linux';

/** runtime().blas in a fresh Node process with `env` added. */
function blasIn(env: Record<string, string>) {
  const code = "import('./dist/core/runtime.js').then((m) => console.log(JSON.stringify(m.runtime().blas)))";
  const cleared = { ...process.env, OPENBLAS_CORETYPE: '', MLX_LAB_BLAS_KERNEL: '' };
  delete cleared.OPENBLAS_CORETYPE;
  delete cleared.MLX_LAB_BLAS_KERNEL;
  const r = spawnSync(process.execPath, ['-e', code], { env: { ...cleared, ...env }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

describe.runIf(linux && process.env.MLX_LAB_BLAS !== 'reference')('the BLAS on Linux', () => {
  it('is OpenBLAS, not the reference BLAS the wheel vendors', () => {
    const b = runtime().blas;
    console.log(`BLAS: ${describeBlas(b)}`);
    expect(b.name).toBe('OpenBLAS');
    expect(b.config).toMatch(/OpenBLAS \d+\.\d+/);
    expect(b.version).toBe(/OpenBLAS\s+([\d.]+)/.exec(b.config)![1]); // derived once, in runtime()
    expect(b.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(b.threads).toBeGreaterThan(0);
  });

  it('runs the kernel chosen from the CPU features, or the one the user set', () => {
    // SkylakeX and Haswell are in every DYNAMIC_ARCH build; Sandybridge is a distinct older kernel.
    expect(blasIn({ OPENBLAS_CORETYPE: 'Sandybridge' })).toMatchObject({ corename: 'Sandybridge', kernelChoice: { source: 'OPENBLAS_CORETYPE' } });
    expect(blasIn({ MLX_LAB_BLAS_KERNEL: 'Haswell' })).toMatchObject({ corename: 'Haswell', kernelChoice: { source: 'MLX_LAB_BLAS_KERNEL' } });
    const own = blasIn({ MLX_LAB_BLAS_KERNEL: 'openblas' });
    expect(own.kernelChoice.source).toBe('openblas');
    expect(own.corename).not.toBe('');
  });

  it('on a CPU with AVX2 or AVX-512, the chosen kernel is the one OpenBLAS runs', () => {
    const auto = blasIn({});
    if (auto.kernelChoice.source !== 'cpu-features') return; // no AVX: OpenBLAS's own choice
    // OpenBLAS builds without a separate Zen kernel run Haswell's under that name.
    const same = auto.kernelChoice.kernel === 'Zen' ? ['Zen', 'Haswell'] : [auto.kernelChoice.kernel];
    expect(same).toContain(auto.corename);
  });
});
