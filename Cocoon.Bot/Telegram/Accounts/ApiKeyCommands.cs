using System.Globalization;
using System.Text;
using Cocoon.Bot.Api;
using Cocoon.Bot.Telegram.Chats;
using Cocoon.Ledger.Accounts;

namespace Cocoon.Bot.Telegram.Accounts;

/// <summary>/apikey: keys for the OpenAI-compatible /v1 API, billed to the user's own balance.</summary>
public sealed class ApiKeyCommands(ApiKeyStore store, ChatSender sender, IConfiguration? configuration = null)
{
    /// <summary>The base URL an OpenAI client is given: this gateway's Gateway:Url (COCOON_HTTP) and /v1.</summary>
    private string BaseUrl => (configuration?["Gateway:Url"] is { Length: > 0 } url ? url : Network.Hosting.CocoonEnvironment.DefaultHttp).TrimEnd('/') + "/v1";

    public async Task HandleAsync(long chatId, long userId, string args, CancellationToken cancellationToken)
    {
        var owner = AccountId.User(userId);
        var parts = args.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        switch (parts)
        {
            case ["new" or "create"]:
                var (key, keyId) = await store.CreateAsync(owner, cancellationToken).ConfigureAwait(false);
                await sender.SendAsync(chatId,
                    $"New API key {keyId} (shown once; it spends your balance, keep it secret):\n{key}\n\n" +
                    $"Use it as a Bearer token with any OpenAI client, base URL {BaseUrl}. Revoke with /apikey revoke " + keyId,
                    cancellationToken).ConfigureAwait(false);
                return;
            case ["revoke", var id]:
                var mine = await store.ListAsync(owner, cancellationToken).ConfigureAwait(false);
                var revoked = mine.Any(k => k.KeyId == id) && await store.RevokeAsync(id, cancellationToken).ConfigureAwait(false);
                await sender.SendAsync(chatId, revoked ? $"Key {id} is revoked." : $"You have no key {id}.", cancellationToken).ConfigureAwait(false);
                return;
            default:
                var keys = await store.ListAsync(owner, cancellationToken).ConfigureAwait(false);
                var text = new StringBuilder(keys.Count == 0 ? "You have no API keys.\n" : "Your API keys:\n");
                foreach (var k in keys)
                {
                    text.Append(CultureInfo.InvariantCulture, $"• {k.KeyId}, created {k.CreatedAt:yyyy-MM-dd}\n");
                }

                text.Append("/apikey new – create one\n/apikey revoke <id> – revoke one");
                await sender.SendAsync(chatId, text.ToString(), cancellationToken).ConfigureAwait(false);
                return;
        }
    }
}
