using Cocoon.Bot.Api;
using Cocoon.Ledger.Accounts;
using Cocoon.Network.Transport;
using Microsoft.Extensions.Options;
using Polly.Registry;

namespace Cocoon.Bot.Hosting;

/// <summary>
/// Registers the local developer key (COCOON_API_KEY) in the key store at start-up, so it is checked like any other.
/// It runs beside the host's start (the store may wait for its database and Redis), so a request that comes first
/// and is not otherwise known waits for <see cref="Registered"/> before it is refused.
/// </summary>
internal sealed class LocalApiKeyRegistration(ApiKeyStore keys, ILedgerAccounts accounts, IOptions<GatewayOptions> options, ResiliencePipelineProvider<string> pipelines, ILogger<LocalApiKeyRegistration> logger) : BackgroundService
{
    public const string KeyId = "local";

    private readonly TaskCompletionSource _registered = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once the local key is in the store (at once when none is configured).</summary>
    public Task Registered => _registered.Task;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.Value.ApiKey is not { Length: > 0 } key)
        {
            _registered.TrySetResult();
            return;
        }

        // Redis may come up after the gateway (./cocoon up starts both): the Redis pipeline retries until it answers.
        await pipelines.GetPipeline(RedisResilience.Pipeline).ExecuteAsync(
            ct => keys.ImportAsync(key, KeyId, GatewayOptions.LocalDeveloper, ct),
            (e, delay) => ApiLog.LocalKeyRetry(logger, delay.TotalMilliseconds, e),
            stoppingToken);
        ApiLog.LocalKeyRegistered(logger, KeyId);
        _registered.TrySetResult();

        // Once per ledger: the local developer starts with an allowance instead of a top-up.
        if (options.Value.LocalDeveloperAllowanceNanotons > 0)
        {
            await accounts.EnsureFreeAllowanceAsync(GatewayOptions.LocalDeveloper, options.Value.LocalDeveloperAllowanceNanotons, stoppingToken);
        }
    }
}
