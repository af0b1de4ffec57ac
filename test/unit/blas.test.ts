// The BLAS choices: which OpenBLAS kernel fits a CPU (from /proc/cpuinfo flags), which BLAS the
// install links (system, bundled or reference), the forwarding shim's assembly, and the ELF reader
// it takes its symbol list from. No native code.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chooseKernel, fittingKernel, parseCpuinfo } from '../../src/core/blas-kernel.js';
// @ts-expect-error: plain ESM scripts without types
import { chooseBlas, shimAssembly } from '../../scripts/lib/blas.mjs';
// @ts-expect-error: plain ESM scripts without types
import { exportedFunctions } from '../../scripts/lib/elf.mjs';

const tmp = mkdtempSync(join(tmpdir(), 'mlx-lab-blas-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const cpuinfo = (vendor: string, model: string, flags: string) =>
  `processor\t: 0\nvendor_id\t: ${vendor}\nmodel name\t: ${model}\nflags\t\t: ${flags}\n\nprocessor\t: 1\nvendor_id\t: ${vendor}\nflags\t\t: fpu\n`;
const BASE = 'fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ss ht syscall nx pdpe1gb rdtscp lm constant_tsc';
// The CPU OpenBLAS 0.3.21 did not know (it fell back to Prescott): a Sapphire Rapids Xeon.
const XEON_SPR = cpuinfo('GenuineIntel', 'Intel(R) Xeon(R) Platinum 8481C', `${BASE} pni pclmulqdq ssse3 fma cx16 sse4_1 sse4_2 movbe popcnt aes xsave avx f16c rdrand avx2 bmi1 bmi2 avx512f avx512dq avx512ifma avx512cd avx512bw avx512vl avx512_bf16 amx_bf16 amx_tile amx_int8`);
const EPYC_ZEN4 = cpuinfo('AuthenticAMD', 'AMD EPYC', `${BASE} pni ssse3 fma sse4_1 sse4_2 avx f16c avx2 avx512f avx512dq avx512cd avx512bw avx512vl avx512_bf16`);
const EPYC_ZEN2 = cpuinfo('AuthenticAMD', 'AMD EPYC 7B12', `${BASE} pni ssse3 fma sse4_1 sse4_2 avx f16c avx2 bmi2`);
const SKYLAKE_DESKTOP = cpuinfo('GenuineIntel', 'Intel(R) Core(TM) i7-6700', `${BASE} pni ssse3 fma sse4_1 sse4_2 avx f16c avx2`);
const SANDY = cpuinfo('GenuineIntel', 'Intel(R) Xeon(R) CPU E5-2670', `${BASE} pni ssse3 sse4_1 sse4_2 avx`);
const CORE2 = cpuinfo('GenuineIntel', 'Intel(R) Core(TM)2 Duo', `${BASE} pni ssse3`);
// A VM that hides some AVX-512 subsets: not enough for the SkylakeX kernel.
const PARTIAL_512 = cpuinfo('GenuineIntel', 'QEMU Virtual CPU', `${BASE} avx fma avx2 avx512f`);

describe('the OpenBLAS kernel for a CPU', () => {
  it.each([
    ['Sapphire Rapids Xeon', XEON_SPR, 'SkylakeX'],
    ['EPYC Zen 4 (AVX-512)', EPYC_ZEN4, 'SkylakeX'],
    ['EPYC Zen 2 (AVX2)', EPYC_ZEN2, 'Zen'],
    ['Skylake desktop (AVX2)', SKYLAKE_DESKTOP, 'Haswell'],
    ['Sandy Bridge (AVX)', SANDY, 'Sandybridge'],
    ['AVX-512F alone', PARTIAL_512, 'Haswell'],
  ])('%s -> %s', (_, text, kernel) => {
    expect(fittingKernel(parseCpuinfo(text)!)?.kernel).toBe(kernel);
  });

  it('has no choice for a CPU without AVX, and none without flags', () => {
    expect(fittingKernel(parseCpuinfo(CORE2)!)).toBeNull();
    expect(parseCpuinfo('processor : 0\n')).toBeNull();
  });

  it('reads the first CPU of /proc/cpuinfo', () => {
    const cpu = parseCpuinfo(EPYC_ZEN4)!;
    expect(cpu.vendor).toBe('AuthenticAMD');
    expect(cpu.flags.has('avx512bw')).toBe(true);
  });
});

describe('chooseKernel', () => {
  const linux = (env: Record<string, string>, text: string | null = XEON_SPR) => chooseKernel(env, 'linux', 'x64', () => text);

  it('sets the kernel from the CPU features when nobody chose one', () => {
    expect(linux({})).toEqual({ kernel: 'SkylakeX', source: 'cpu-features', reason: 'AVX-512 (F, BW, VL, DQ, CD)' });
  });

  it('leaves a user OPENBLAS_CORETYPE alone, and honours MLX_LAB_BLAS_KERNEL', () => {
    expect(linux({ OPENBLAS_CORETYPE: 'Prescott' })).toMatchObject({ kernel: 'Prescott', source: 'OPENBLAS_CORETYPE' });
    expect(linux({ MLX_LAB_BLAS_KERNEL: 'openblas' })).toMatchObject({ kernel: null, source: 'openblas' });
    expect(linux({ MLX_LAB_BLAS_KERNEL: 'Zen' })).toMatchObject({ kernel: 'Zen', source: 'MLX_LAB_BLAS_KERNEL' });
  });

  it('leaves detection to OpenBLAS off Linux x86-64, without flags or without AVX', () => {
    expect(chooseKernel({}, 'linux', 'arm64', () => XEON_SPR)).toMatchObject({ kernel: null, source: 'openblas' });
    expect(chooseKernel({}, 'darwin', 'arm64', () => null)).toMatchObject({ kernel: null });
    expect(linux({}, null)).toMatchObject({ kernel: null, reason: 'no CPU flags readable' });
    expect(linux({}, CORE2)).toMatchObject({ kernel: null });
  });
});

describe('chooseBlas (MLX_LAB_BLAS)', () => {
  it('auto takes the system OpenBLAS when there is one, else the bundled one', () => {
    expect(chooseBlas('auto', '/usr/lib/x86_64-linux-gnu/libopenblas.so.0')).toBe('system');
    expect(chooseBlas('auto', null)).toBe('bundled');
  });

  it('names a bad setting, and a system BLAS that is not there', () => {
    expect(() => chooseBlas('mkl', null)).toThrow(/MLX_LAB_BLAS must be auto, system, bundled or reference, got "mkl"/);
    expect(() => chooseBlas('system', null)).toThrow(/no OpenBLAS is installed/);
    expect(chooseBlas('reference', null)).toBe('reference');
  });
});

describe('the forwarding shim', () => {
  it('jumps from each plain name to the prefixed one (x86-64 and arm64)', () => {
    const x64 = shimAssembly(['cblas_sgemm', 'sgetrf_'], 'x64');
    expect(x64).toContain('.globl cblas_sgemm\n.type cblas_sgemm, @function\ncblas_sgemm:\n  jmp scipy_cblas_sgemm@PLT\n');
    expect(x64).toContain('sgetrf_:\n  jmp scipy_sgetrf_@PLT');
    expect(x64).toContain('.note.GNU-stack');
    expect(shimAssembly(['cblas_sgemm'], 'arm64')).toContain('cblas_sgemm:\n  b scipy_cblas_sgemm\n');
  });

  it('refuses names that are not plain symbols and CPUs it cannot assemble for', () => {
    expect(() => shimAssembly(['bad name'], 'x64')).toThrow(/not a plain C symbol name/);
    expect(() => shimAssembly(['x'], 'ia32')).toThrow(/no BLAS shim for ia32/);
  });
});

describe('exportedFunctions (ELF .dynsym)', () => {
  it('lists the functions a shared object defines', () => {
    // Node's own binary exports its N-API functions in its dynamic symbol table.
    if (process.platform !== 'linux') return;
    const names = exportedFunctions(process.execPath);
    expect(names).toContain('napi_create_object');
    expect(names.every((n: string) => !n.includes('@'))).toBe(true);
  });

  it('names a file that is not ELF64 little-endian', () => {
    const junk = join(tmp, 'junk.so');
    writeFileSync(junk, 'not an elf file at all, but long enough to have a header of sixty-four bytes.');
    expect(() => exportedFunctions(junk)).toThrow(/junk\.so: not an ELF file/);
    const elf32 = join(tmp, 'elf32.so');
    writeFileSync(elf32, Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 1, 1]), Buffer.alloc(70)]));
    expect(() => exportedFunctions(elf32)).toThrow(/not a 64-bit little-endian ELF file/);
  });

  it('names section headers that lie outside the file', () => {
    const cut = join(tmp, 'cut.so');
    const b = Buffer.alloc(64);
    b.write('\x7fELF', 0, 'latin1');
    b[4] = 2;
    b[5] = 1;
    b.writeBigUInt64LE(1_000_000n, 0x28);
    b.writeUInt16LE(64, 0x3a);
    b.writeUInt16LE(3, 0x3c);
    writeFileSync(cut, b);
    expect(() => exportedFunctions(cut)).toThrow(/section header 0 lies outside the file/);
  });
});
