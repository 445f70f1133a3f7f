/** The caller's identity (§1.8): `/current-identity` and the edge routers it may use. */
import { entityLinks, type SessionRoutes } from './context.ts';
import { sendData } from './envelope.ts';
import { edgeRouterView } from './services.ts';

export const identityRoutes: SessionRoutes = async (c, ctx, s, hdrs) => {
  const { res, route } = ctx;
  if (route === 'GET /current-identity') {
    const i = s.identity;
    sendData(
      res,
      200,
      {
        id: i.id,
        name: i.name,
        externalId: i.externalId,
        roleAttributes: i.roleAttributes,
        disabled: i.disabled,
        _links: entityLinks('identities', i.id),
      },
      {},
      hdrs,
    );
    return true;
  }
  if (route === 'GET /current-identity/edge-routers') {
    sendData(res, 200, edgeRouterView(c.state, 'identity'), {}, hdrs);
    return true;
  }
  return false;
};
