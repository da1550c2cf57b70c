using Cocoon.Bot.Api;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.Hosting;

/// <summary>Registers the local developer key (COCOON_API_KEY) in the key store at start-up, so it is checked like any other.</summary>
internal sealed class LocalApiKeyRegistration(ApiKeyStore keys, IOptions<GatewayOptions> options, ILogger<LocalApiKeyRegistration> logger) : BackgroundService
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
                return;
            }
            catch (StackExchange.Redis.RedisConnectionException) when (!stoppingToken.IsCancellationRequested)
            {
                await Task.Delay(delay, stoppingToken);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 5000));
            }
        }
    }
}
