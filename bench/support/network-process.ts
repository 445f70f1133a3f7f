/**
 * Runs one benchmark network in its own process (`bench/support/network.ts` spawns it), so the
 * fabric's router, tunneler and app never share an event loop with the benchmark driver.
 * argv: <fabric|openziti> <probe|demo|...>. Prints one JSON line with what the driver needs, then
 * lives until its stdin closes.
 */
import { type DarkAppKind, type NetworkKind, startE2eNetwork } from '../../e2e/support/fabric.ts';

const network = (process.argv[2] ?? 'fabric') as NetworkKind;
const app = (process.argv[3] ?? 'probe') as DarkAppKind;
const zt = await startE2eNetwork(network, app, {}, {});
process.stdout.write(
  `${JSON.stringify({ siteOrigin: zt.siteOrigin, appOrigin: zt.appOrigin, user: zt.user })}\n`,
);
process.stdin.resume();
process.stdin.on('end', () => {
  void zt.close().then(() => process.exit(0));
});
