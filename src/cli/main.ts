// The `plateau` command line (commander). Shapes of inputs and outputs follow the design notes'
// command-line contract; every output is a safetensors file of f32 tensors.
import { Command, Option } from 'commander';
import { action } from './common.js';
import { runCommand } from './run-command.js';

const program = new Command();
program
  .name('plateau')
  .description('WebGPU interpretability sweeps on GPT-2 and Pythia checkpoints')
  .version('0.1.0');

program
  .command('run')
  .description('forward pass: writes logits [B,T,V], nll [B,T-1] and the requested hooks')
  .option('--model <dir>', 'Hugging Face model folder (default: the embedded weights/gpt2-brown)')
  .option('--ids <file>', 'token ids: JSON array of equal-length arrays, or safetensors with input_ids [B,T]')
  .option('--text <text>', 'text to tokenize with the model folder\'s tokenizer.json (one sequence)')
  .option('--bos', 'prepend the BOS (or EOS) token to --text')
  .option('--hooks <names>', 'comma-separated hook names, or "all"')
  .option('--no-logits', 'do not write the [B,T,V] logits')
  .addOption(new Option('--weights <dtype>', 'GPU storage of weight matrices').choices(['auto', 'f32']).default('auto'))
  .requiredOption('--out <file>', 'output safetensors file')
  .action(action(runCommand));

await program.parseAsync(process.argv);
