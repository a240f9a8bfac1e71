// `snakepit completion [bash|zsh]`: a completion script generated from the command definitions
// themselves, so it always matches the real commands and flags.
import type { Command } from 'commander';
import { SnakepitError } from '../../errors.js';
import type { CommandResult } from '../output.js';

export function completionScript(program: Command, shell: string): string {
  if (shell !== 'bash' && shell !== 'zsh') throw new SnakepitError('USAGE', `unknown shell '${shell}': choose bash or zsh`);
  const commands = program.commands.filter((c) => c.name() !== 'help');
  const names = commands.map((c) => c.name());
  const cases = commands
    .map((c) => {
      const flags = [...c.options.map((o) => o.long).filter(Boolean), '--help'];
      const subs = c.commands.map((s) => s.name());
      return `    ${c.name()}) words="${[...subs, ...flags].join(' ')}" ;;`;
    })
    .join('\n');
  const body = `_snakepit() {
  local cur words
  cur="\${COMP_WORDS[COMP_CWORD]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${names.join(' ')} --help --version" -- "$cur") )
    return
  fi
  case "\${COMP_WORDS[1]}" in
${cases}
    *) words="" ;;
  esac
  if [[ "$cur" == -* || -n "$words" && "$COMP_CWORD" -eq 2 && "\${COMP_WORDS[1]}" == doctor ]]; then
    COMPREPLY=( $(compgen -W "$words" -- "$cur") )
  else
    COMPREPLY=( $(compgen -f -- "$cur") )
  fi
}
complete -F _snakepit snakepit`;
  const header =
    shell === 'zsh'
      ? '# snakepit completion for zsh. Install: snakepit completion zsh >> ~/.zshrc\nautoload -U +X bashcompinit && bashcompinit\n'
      : '# snakepit completion for bash. Install: snakepit completion >> ~/.bashrc\n';
  return `${header}${body}\n`;
}

export async function completionCommand(program: Command, shell: string | undefined): Promise<CommandResult> {
  const script = completionScript(program, shell ?? 'bash');
  return { json: { ok: true, shell: shell ?? 'bash', script }, text: script };
}
