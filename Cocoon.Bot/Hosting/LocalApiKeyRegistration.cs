using Cocoon.Bot.Api;
using Cocoon.Ledger.Accounts;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.Hosting;

/// <summary>Registers the local developer key (COCOON_API_KEY) in the key store at start-up, so it is checked like any other.</summary>
internal sealed class LocalApiKeyRegistration(ApiKeyStore keys, ILedgerAccounts accounts, IOptions<GatewayOptions> options, ILogger<LocalApiKeyRegistration> logger) : BackgroundService
{
    public const string KeyId = "local";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.Value.ApiKey is not { Length: > 0 } key)
        {
            return;
        }

        // Redis may come up after the gateway (./cocoon up starts both); retry until it answers.
        var delay = TimeSpan.FromMilliseconds(200);
        while (true)
        {
            try
            {
                await keys.ImportAsync(key, KeyId, GatewayOptions.LocalDeveloper, stoppingToken);
                ApiLog.LocalKeyRegistered(logger, KeyId);
                break;
            }
            catch (StackExchange.Redis.RedisConnectionException) when (!stoppingToken.IsCancellationRequested)
            {
                await Task.Delay(delay, stoppingToken);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 5000));
            }
        }

        // Once per ledger: the local developer starts with an allowance instead of a top-up.
        if (options.Value.LocalDeveloperAllowanceNanotons > 0)
        {
            await accounts.EnsureFreeAllowanceAsync(GatewayOptions.LocalDeveloper, options.Value.LocalDeveloperAllowanceNanotons, stoppingToken);
        }
    }
}
