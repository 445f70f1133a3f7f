import { describe, expect, it } from 'vitest';
import { channelPair } from '../_test/fixtures.ts';
import { ContentType } from '../channel/constants.ts';
import { newMessage, stringBytes } from '../channel/message.ts';
import { ZitiAuthenticationError } from '../errors.ts';
import { updateToken } from './update-token.ts';

describe('updateToken', () => {
  it('sends the new JWT as the body and maps the router verdict', async () => {
    const { client, router } = await channelPair();
    const seen: string[] = [];
    router.handle(ContentType.UpdateToken, (msg) => {
      const token = new TextDecoder().decode(msg.body);
      seen.push(token);
      const ok = token.startsWith('ey');
      void router.reply(
        msg,
        newMessage(
          ok ? ContentType.UpdateTokenSuccess : ContentType.UpdateTokenFailure,
          new Map(),
          stringBytes(ok ? '' : 'token is not a JWT'),
        ),
      );
    });
    await updateToken(client, 'eyJnew.jwt.token');
    const err = await updateToken(client, 'legacy-uuid').catch((e) => e);
    expect(err).toBeInstanceOf(ZitiAuthenticationError);
    expect(err.message).toContain('token is not a JWT');
    expect(seen).toEqual(['eyJnew.jwt.token', 'legacy-uuid']);
    await client.close();
  });
});
