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
  elif [[ "$COMP_CWORD" -eq 2 && "\${COMP_WORDS[1]}" == exec ]]; then
    # The tools of the running agent (of --home / SNAKEPIT_HOME when given), asked at each TAB.
    local home=() i
    for ((i = 2; i < \${#COMP_WORDS[@]} - 1; i++)); do [[ "\${COMP_WORDS[i]}" == --home ]] && home=(--home "\${COMP_WORDS[i+1]}"); done
    COMPREPLY=( $(compgen -W "$(\${_snakepit_cmd:-snakepit} tools --names "\${home[@]}" 2>/dev/null)" -- "$cur") )
  else
    COMPREPLY=( $(compgen -f -- "$cur") )
  fi
}
complete -F _snakepit snakepit
# \`npx snakepit …\` too: the words after npx, completed the same way.
_snakepit_npx() {
  if [[ "$COMP_CWORD" -ge 2 && "\${COMP_WORDS[1]}" == snakepit ]]; then
    COMP_WORDS=("\${COMP_WORDS[@]:1}")
    COMP_CWORD=$((COMP_CWORD - 1))
    _snakepit_cmd="npx --no-install snakepit" _snakepit
  else
    COMPREPLY=( $(compgen -f -- "\${COMP_WORDS[COMP_CWORD]}") )
  fi
}
complete -F _snakepit_npx npx`;
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
