/**
 * Run before the end-to-end tests: every browser they drive must be installed. On a Debian machine
 * running as root the missing ones are installed; anywhere else the exact command is printed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { browsers, missingBrowsers } from './browsers.ts';

const missing = missingBrowsers();
if (missing.length > 0) {
  const packages = missing.map((name) => browsers[name].debianPackage);
  const command = `apt-get update && apt-get install -y ${packages.join(' ')}`;
  const canInstall = process.getuid?.() === 0 && existsSync('/usr/bin/apt-get');
  if (!canInstall) {
    console.error(
      `The end-to-end tests need ${missing.join(' and ')}, which ${missing.length > 1 ? 'are' : 'is'} not installed.`,
    );
    console.error(`Install with:  sudo sh -c '${command}'`);
    console.error(
      `or point ${missing.map((n) => browsers[n].envVar).join(' / ')} at an installed binary.`,
    );
    process.exit(1);
  }
  console.log(`Installing ${packages.join(', ')} for the end-to-end tests: ${command}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', ...packages], { stdio: 'inherit', env });
  const still = missingBrowsers();
  if (still.length > 0) {
    console.error(`Still missing after install: ${still.map((n) => browsers[n].path).join(', ')}`);
    process.exit(1);
  }
}
