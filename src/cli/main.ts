// The `plateau` command line (commander). Shapes of inputs and outputs follow the design notes'
// command-line contract; every output is a safetensors file of f32 tensors.
import { Command, Option } from 'commander';
import { action } from './common.js';
import { ATTENTION_VARIANTS, MATMUL_VARIANTS } from '../gpu/kernels.js';
import { runCommand } from './run-command.js';
import { profileCommand } from './profile-command.js';
import { analyzeCommand } from './analyze-command.js';
import { mergeCommand, patchCommand, sweepHeadsCommand, sweepNeuronsCommand } from './sweep-command.js';

/** --memory-budget: the GPU memory a batch may take (as PLATEAU_MEMORY_BUDGET). */
function memoryBudgetOption(cmd: Command): Command {
  return cmd.option('--memory-budget <size>', 'GPU memory a batch may take, e.g. 8GB (default: PLATEAU_MEMORY_BUDGET, else 4GiB; batches also respect the binding limit)');
}

/** --memory-budget, and --matmul / --attention: force one kernel variant (as PLATEAU_MATMUL / PLATEAU_ATTENTION do). */
function kernelOptions(cmd: Command): Command {
  return memoryBudgetOption(cmd)
    .addOption(new Option('--matmul <variant>', 'one matmul variant for every product (default: PLATEAU_MATMUL, else the autotune cache, else the adapter default)').choices(MATMUL_VARIANTS))
    .addOption(new Option('--attention <kernel>', 'one attention kernel (default: PLATEAU_ATTENTION, else the autotune cache, else tiled; simple always when patterns are requested)').choices(ATTENTION_VARIANTS));
}

/** Commander collector: every --text is one row. */
function collectTexts(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

const program = new Command();
program
  .name('plateau')
  .description('WebGPU interpretability sweeps on GPT-2 and Pythia checkpoints')
  .version('0.1.0');

kernelOptions(program
  .command('run')
  .description('forward pass: writes logits [B,T,V], nll [B,T-1] and the requested hooks')
  .option('--model <dir>', 'Hugging Face model folder (default: the embedded weights/gpt2-brown)')
  .option('--ids <file>', 'token ids: JSON array of equal-length arrays, or safetensors with input_ids [B,T]')
  .option('--text <text>', 'text to tokenize with the model folder\'s tokenizer.json; repeat for more rows (of equal token length)', collectTexts)
  .option('--bos', 'prepend the BOS (or EOS) token to --text')
  .option('--hooks <names>', 'comma-separated hook names, or "all"')
  .option('--no-logits', 'do not write the [B,T,V] logits')
  .addOption(new Option('--weights <dtype>', 'GPU storage of weight matrices').choices(['auto', 'f32']).default('auto'))
  .requiredOption('--out <file>', 'output safetensors file'))
  .action(action(runCommand));

/** Options shared by sweeps and patching: model, inputs, scheduling. */
function sweepOptions(cmd: Command): Command {
  return kernelOptions(cmd)
    .option('--model <dir>', 'Hugging Face model folder (default: the embedded weights/gpt2-brown)')
    .option('--ids <file>', 'token ids: JSON array of equal-length arrays, or safetensors with input_ids [B,T]')
    .option('--text <text>', 'text to tokenize; repeat for more rows of equal token length (e.g. a clean and a corrupted prompt for patch)', collectTexts)
    .option('--bos', 'prepend the BOS (or EOS) token to --text')
    .requiredOption('--out <file>', 'output safetensors file')
    .option('--resume', 'continue an interrupted sweep from its finished chunks (OUT.parts/)')
    .option('--shard <i/n>', 'compute only shard i of n (deterministic); combine with `plateau merge`')
    .option('--work-dir <dir>', 'where chunks and the manifest live (default: OUT.parts)')
    .option('--chunk <units>', 'units per chunk (default: one device batch)')
    .option('--strategy <name>', 'force a strategy: final-layer-closed-form, batched-from-layer, single-position-cached, suffix-cached (patch), naive')
    .addOption(new Option('--weights <dtype>', 'GPU storage of weight matrices').choices(['auto', 'f32']).default('auto'));
}

const sweep = program.command('sweep').description('intervention sweeps (dnll per unit, batch and position)');
sweepOptions(sweep.command('neurons')
  .description('ablate each MLP neuron of a layer at every position: dnll [d_mlp, B, T-1]')
  .requiredOption('--layer <N|last>', 'layer index or "last"')
  .addOption(new Option('--ablation <kind>', 'value the neuron is set to: 0, its mean, or its value in another run (--resample-ids)').choices(['zero', 'mean', 'resample']).default('mean'))
  .option('--mean-ids <file>', 'with mean: take the means over every position of these token rows (a named population; default: the swept batch)')
  .option('--resample-ids <file>', 'with resample: token rows of the same shape as --ids whose activations replace the ablated ones, position by position')
  .option('--neurons <list>', 'only these neurons, e.g. 0,5,10-20 (dnll [n_sel, B, T-1])')
  .option('--logprobs-at <positions>', 'also write logprobs [n, B, P, V]: log-softmax at these positions (negative from the end, e.g. -1)')
  .option('--watch <LAYER:i,j>', 'also write dact [n, B, T, n_watch]: the change of these neurons\' hook_post at every position'))
  .action(action(sweepNeuronsCommand));
sweepOptions(sweep.command('heads')
  .description('ablate each attention head: dnll [L_sel, H, B, T-1]; with --watch also dact [L_sel, H, B, T, n_watch]')
  .option('--layers <all|N,N>', 'layers to sweep', 'all')
  .addOption(new Option('--ablation <kind>', 'zero/mean/resample of hook_z at every position, or bos: redirect one query row to position 0').choices(['zero', 'mean', 'resample', 'bos']).default('mean'))
  .option('--mean-ids <file>', 'with mean: take the means over every position of these token rows (a named population; default: the swept batch)')
  .option('--resample-ids <file>', 'with resample: token rows of the same shape as --ids whose hook_z replaces the ablated head\'s, position by position')
  .option('--logprobs-at <positions>', 'zero/mean/resample: also write logprobs [L_sel, H, B, P, V]: log-softmax at these positions (negative from the end)')
  .option('--watch <LAYER:i,j>', 'neurons of a layer whose hook_post change is measured (dact): at the redirected position (bos) or at every position'))
  .action(action(sweepHeadsCommand));
sweepOptions(program.command('patch')
  .description('activation patching: logprobs [L, T, V] of the corrupted row\'s final position with the hook (default resid_pre) at (l, p) from the clean row; per head and all positions at once on request')
  .requiredOption('--clean-row <I>', 'row of --ids that is the clean run')
  .requiredOption('--corrupted-row <J>', 'row of --ids that is the corrupted run')
  .option('--hook <name>', 'hook of each block to patch (TransformerLens short names): resid_pre, attn_out, resid_mid, mlp_out, resid_post, z, pre, post', 'resid_pre')
  .addOption(new Option('--positions <which>', 'patch one position at a time (logprobs [L, T, V]) or the hook at every position at once ([L, V])').choices(['each', 'all']).default('each'))
  .option('--per-head', 'with --hook z: patch one head\'s slice at a time (logprobs [L, H, T, V], or [L, H, V] with --positions all)')
  .option('--tokens <ids>', 'keep only these vocabulary columns of logprobs (comma-separated token ids; the log-softmax is still over the whole vocabulary)'))
  .action(action(patchCommand));
program.command('merge')
  .description('combine the work dirs of all shards of a sweep into its output file')
  .argument('<dirs...>', 'work dirs (OUT.parts of each shard)')
  .requiredOption('--out <file>', 'output safetensors file')
  .action(action(mergeCommand));

kernelOptions(program
  .command('profile')
  .description('per-kernel GPU time of N forward passes (after one warm-up): table, sum vs span vs wall clock, Chrome trace')
  .option('--model <dir>', 'Hugging Face model folder (default: the embedded weights/gpt2-brown)')
  .option('--ids <file>', 'token ids: JSON array of equal-length arrays, or safetensors with input_ids [B,T]')
  .option('--text <text>', 'text to tokenize with the model folder\'s tokenizer.json; repeat for more rows (of equal token length)', collectTexts)
  .option('--bos', 'prepend the BOS (or EOS) token to --text')
  .option('--repeat <n>', 'profiled forward passes', '3')
  .option('--trace <file>', 'write a Chrome trace-event JSON (Perfetto, chrome://tracing)')
  .option('--json <file>', 'write the per-kernel report as JSON')
  .addOption(new Option('--sweep <kind>', 'profile a whole last-layer sweep instead of a forward: neurons or heads (mean ablation), heads-bos; or patch (resid_pre, rows 0 → 1)').choices(['neurons', 'heads', 'heads-bos', 'patch']))
  .option('--autotune', 'first time every matmul variant on this forward\'s shapes, both attention kernels (with --sweep neurons also the closed form\'s pair-loop variants) and cache the fastest (~/.cache/plateau/autotune.json)')
  .addOption(new Option('--timer <kind>', 'auto: GPU timestamps when offered; cpu: replay each dispatch between queue syncs').choices(['auto', 'cpu']).default('auto'))
  .addOption(new Option('--weights <dtype>', 'GPU storage of weight matrices').choices(['auto', 'f32']).default('auto')))
  .action(action(profileCommand));

memoryBudgetOption(program.command('analyze')
  .description('the rare-token analyses (influence, three regimes, geometry, clustering, routing, spectra, dynamics) → results.json, CSVs, report.html')
  .option('--model <dir>', 'model folder with config.json, tokenizer.json, weights (default: the embedded weights/gpt2-brown)')
  .option('--corpus <files...>', 'text (.txt = one document), JSONL (text field) or JSON array files (default: the embedded Brown corpus)')
  .requiredOption('--out <dir>', 'output folder')
  .option('--rows <n>', 'rows ablated (authors: 10; recommended ≥ 100)', '100')
  .option('--seq <n>', 'tokens per row, BOS first', '256')
  .option('--mean-rows <n>', 'rows of the corpus sample over which mean activations are taken', '400')
  .option('--seed <n>', 'seed of the row shuffle, random groups, bootstraps, Louvain', '42')
  .option('--counts <file>', 'unigram counts (.npy integer vector by token id, or JSON); default: counted over the corpus')
  .addOption(new Option('--split <method>', 'rare/common split').choices(['longtail_50', 'elbow_band', 'quantile_band']).default('longtail_50'))
  .option('--top-percent <x>', 'elbow_band: top-X% rank where the band starts (0, 15 or 20)', '0')
  .addOption(new Option('--vocab-scope <scope>', 'tokens ranked for the split: all, or observed (count > 0); default observed when counting over --corpus, all with --counts').choices(['all', 'observed']))
  .addOption(new Option('--by <token>', 'which token decides rarity of position t').choices(['target', 'input']).default('target'))
  .addOption(new Option('--ablation <kind>', 'neuron ablation').choices(['mean', 'zero']).default('mean'))
  .option('--plateau-size <n|auto>', 'plateau neurons: auto (from the fit) or a manual size (authors: 30 GPT-2 XL, 35 large, 50 Pythia 1B/2.8B)', 'auto')
  .option('--random-groups <n>', 'random same-size groups for the null distributions (≥ 100)', '100')
  .option('--bootstrap <n>', 'bootstrap replicates for confidence intervals', '200')
  .option('--edge-threshold <r>', 'co-activation graph: keep edges with |r| ≥ this (a no-threshold variant is always computed too)', '0.3')
  .option('--head-layers <default|N,N>', 'layers whose heads are screened (default: last layer up to 24 layers, else the last 6)', 'default')
  .addOption(new Option('--head-intervention <kind>', 'head intervention').choices(['bos', 'zero', 'mean']).default('bos'))
  .option('--permutations <n>', 'permutations of the per-head test', '1000')
  .option('--checkpoints <dirs>', 'comma-separated checkpoint folders (e.g. Pythia step0,...,step143000) for training dynamics'))
  .action(action(analyzeCommand));

await program.parseAsync(process.argv);
