/**
 * The synthetic radio scene behind `spectrum` requests without a recording: a few emitters spread over
 * the requested span, in white Gaussian noise of fixed density, all reproducible from `seed`
 * (docs/datasets.md, "The synthetic scene").
 *
 * Placement: the span is cut into `count` equal slots; emitter i sits in slot i at a uniformly random
 * point of the slot's middle 60%, and is at most 30% of a slot wide (and at most 20% of the sample rate),
 * so emitters never overlap each other or the span's edges. Kind (tone, am, fm, bpsk) and total power
 * (uniform in [EMITTER_POWER_MIN_DB, EMITTER_POWER_MAX_DB] dBFS) are drawn from the seed too.
 */
import { createRng } from './prng.js';
import {
  createWaveform,
  MODULATIONS,
  waveformBandwidth,
  type Modulation,
  type Waveform,
  type WaveformSpec,
} from './waveform.js';

/** Noise density of the scene, dB relative to full scale² per Hz. */
export const NOISE_DENSITY_DB = -100;
/** Emitter total powers are uniform in this range (dB relative to full scale²). */
export const EMITTER_POWER_MIN_DB = -40;
export const EMITTER_POWER_MAX_DB = -10;
/** PRNG streams of the scene. */
export const STREAM_SCENE = 3;
export const STREAM_SCENE_NOISE = 4;
/** PRNG stream of the emitters' on/off times (spectrogram scenes): its own, so placement is unchanged. */
export const STREAM_SCENE_TIMES = 5;

/** One emitter, as recorded in the spectrum's `meta`. */
export interface Emitter {
  kind: Modulation;
  /** Carrier frequency (Hz). */
  frequency: number;
  /** Mean power, dB full scale. */
  power_db: number;
  /** Occupied bandwidth (Hz), 0 for a tone. */
  bandwidth_hz: number;
  /** AM/FM modulating tone, FM deviation, BPSK symbol rate — whichever apply (Hz). */
  modulation_frequency?: number;
  modulation_index?: number;
  deviation?: number;
  symbol_rate?: number;
  /** Seconds from the start when the emitter switches on (absent: always on). */
  start_time?: number;
  /** Seconds from the start when it switches off (exclusive). */
  stop_time?: number;
}

/** Places `count` emitters over [start, end] for `seed` (see the module comment). */
export function placeEmitters(
  seed: number,
  start: number,
  end: number,
  count: number,
  sampleRate: number,
): Emitter[] {
  const rng = createRng(seed, STREAM_SCENE);
  const span = end - start;
  const slot = span / Math.max(1, count);
  const emitters: Emitter[] = [];
  for (let i = 0; i < count; i++) {
    const frequency = start + slot * (i + 0.2 + 0.6 * rng.uniform());
    const kind = MODULATIONS[rng.below(MODULATIONS.length)] as Modulation;
    const power = EMITTER_POWER_MIN_DB + (EMITTER_POWER_MAX_DB - EMITTER_POWER_MIN_DB) * rng.uniform();
    const width = Math.min(0.3 * slot, 0.2 * sampleRate) * (0.5 + 0.5 * rng.uniform());
    const e: Emitter = { kind, frequency, power_db: power, bandwidth_hz: 0 };
    switch (kind) {
      case 'tone':
        break;
      case 'am':
        e.modulation_frequency = width / 2;
        e.modulation_index = 0.8;
        break;
      case 'fm':
        e.modulation_frequency = width / 10;
        e.deviation = (width * 4) / 10;
        break;
      case 'bpsk':
        e.symbol_rate = width / 2;
        break;
    }
    e.bandwidth_hz = waveformBandwidth(emitterSpec(e, 0, sampleRate, 0));
    emitters.push(e);
  }
  return emitters;
}

/**
 * Emitters that come and go over `duration` seconds (spectrogram scenes): placed as
 * {@link placeEmitters} does, then each is on during one interval drawn from the seed: it starts at a
 * uniform point of the first half and lasts a uniform 25 % … 50 % of the duration.
 */
export function placeTimedEmitters(
  seed: number,
  start: number,
  end: number,
  count: number,
  sampleRate: number,
  duration: number,
): Emitter[] {
  const rng = createRng(seed, STREAM_SCENE_TIMES);
  return placeEmitters(seed, start, end, count, sampleRate).map((e) => {
    const on = 0.5 * duration * rng.uniform();
    const length = duration * (0.25 + 0.25 * rng.uniform());
    return { ...e, start_time: on, stop_time: Math.min(duration, on + length) };
  });
}

function emitterSpec(e: Emitter, center: number, sampleRate: number, key: number): WaveformSpec {
  const m = e.modulation_index ?? 0;
  const power = 10 ** (e.power_db / 10);
  // Amplitude from mean power: AM's mean power is A²(1 + m²/2)/(1 + m)² (waveformPower).
  const amplitude =
    e.kind === 'am' ? Math.sqrt((power * (1 + m) * (1 + m)) / (1 + (m * m) / 2)) : Math.sqrt(power);
  const spec: WaveformSpec = {
    modulation: e.kind,
    offset: e.frequency - center,
    sampleRate,
    amplitude,
    phase: (key % 6283) / 1000,
    symbolKey: key,
  };
  if (e.modulation_frequency !== undefined) spec.modulationFrequency = e.modulation_frequency;
  if (e.modulation_index !== undefined) spec.modulationIndex = e.modulation_index;
  if (e.deviation !== undefined) spec.deviation = e.deviation;
  if (e.symbol_rate !== undefined) spec.symbolRate = e.symbol_rate;
  return spec;
}

/** Per-emitter random keys (initial phase, BPSK bits); compute once per scene, pass to every capture. */
export function emitterKeys(seed: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => createRng(seed, STREAM_SCENE, i + 1).nextU32());
}

/**
 * What a receiver tuned to `center` at `sampleRate` sees of the scene: the emitters whose band reaches
 * into [center − fs/2, center + fs/2] (an ideal anti-alias filter drops the rest) plus the noise.
 */
export class SceneCapture {
  readonly #waves: { wave: Waveform; from: number; to: number }[];
  readonly #sigma: number;
  readonly #rng;

  constructor(
    seed: number,
    emitters: readonly Emitter[],
    center: number,
    sampleRate: number,
    captureIndex: number,
    keys: readonly number[] = emitterKeys(seed, emitters.length),
  ) {
    this.#waves = emitters
      .map((e, i) => ({ e, i }))
      .filter(({ e }) => Math.abs(e.frequency - center) <= sampleRate / 2 + e.bandwidth_hz / 2)
      .map(({ e, i }) => ({
        wave: createWaveform(emitterSpec(e, center, sampleRate, keys[i] as number)),
        // On during samples [from, to): the first sample at or after start_time, up to stop_time.
        from: e.start_time === undefined ? 0 : Math.ceil(e.start_time * sampleRate),
        to: e.stop_time === undefined ? Infinity : Math.ceil(e.stop_time * sampleRate),
      }));
    // Complex white noise of density N0 over fs: total power N0·fs, half per component.
    this.#sigma = Math.sqrt((10 ** (NOISE_DENSITY_DB / 10) * sampleRate) / 2);
    this.#rng = createRng(seed, STREAM_SCENE_NOISE, captureIndex);
  }

  /** Number of emitters audible in this capture. */
  get emitters(): number {
    return this.#waves.length;
  }

  /** Writes samples n0 … n0+count−1 of this capture into `out` (replacing its content). */
  fill(out: Float32Array | Float64Array, count: number, n0: number): void {
    this.#rng.gaussianComplex(out, 0, count, this.#sigma, true);
    for (const { wave, from, to } of this.#waves) {
      const a = Math.max(n0, from);
      const b = Math.min(n0 + count, to);
      if (b > a) wave.add(out, a - n0, b - a, a);
    }
  }
}
