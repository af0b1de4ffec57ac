/** mulberry32: a seeded PRNG with uniform floats in [0, 1). */
export function mulberry32(seed: number): () => number;
