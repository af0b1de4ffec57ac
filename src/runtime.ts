/** What MLX runs on and how much memory it holds. */
import { native } from './native.js';

export interface RuntimeInfo {
  mlxVersion: string;
  device: 'cpu' | 'gpu';
  metal: boolean;
  cuda: boolean;
}

export function runtime(): RuntimeInfo {
  return native().runtime();
}

/** MLX allocator bytes: active now, peak since the last reset, and cached for reuse. */
export function memory(): { active: number; peak: number; cache: number } {
  return native().memory();
}
