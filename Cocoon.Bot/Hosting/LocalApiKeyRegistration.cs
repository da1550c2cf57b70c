using Cocoon.Bot.Api;
using Cocoon.Ledger.Accounts;
using Cocoon.Network.Transport;
using Microsoft.Extensions.Options;
using Polly.Registry;

namespace Cocoon.Bot.Hosting;

/// <summary>Registers the local developer key (COCOON_API_KEY) in the key store at start-up, so it is checked like any other.</summary>
internal sealed class LocalApiKeyRegistration(ApiKeyStore keys, ILedgerAccounts accounts, IOptions<GatewayOptions> options, ResiliencePipelineProvider<string> pipelines, ILogger<LocalApiKeyRegistration> logger) : BackgroundService
{
    public const string KeyId = "local";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.Value.ApiKey is not { Length: > 0 } key)
        {
            return;
        }

        // Redis may come up after the gateway (./cocoon up starts both): the Redis pipeline retries until it answers.
        await pipelines.GetPipeline(RedisResilience.Pipeline).ExecuteAsync(
            ct => keys.ImportAsync(key, KeyId, GatewayOptions.LocalDeveloper, ct),
            (e, delay) => ApiLog.LocalKeyRetry(logger, delay.TotalMilliseconds, e),
            stoppingToken);
        ApiLog.LocalKeyRegistered(logger, KeyId);

        // Once per ledger: the local developer starts with an allowance instead of a top-up.
        if (options.Value.LocalDeveloperAllowanceNanotons > 0)
        {
            await accounts.EnsureFreeAllowanceAsync(GatewayOptions.LocalDeveloper, options.Value.LocalDeveloperAllowanceNanotons, stoppingToken);
        }
    }
}
