using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Cocoon.Network.Transport;

public static class TransportServiceCollectionExtensions
{
    /// <summary>
    /// Registers the one shared <see cref="IConnectionMultiplexer"/> (connected lazily, reconnecting on its own),
    /// the key names, the worker registry, leases, streams and the dead-letter stream. Safe to call twice.
    /// </summary>
    public static IServiceCollection AddCocoonRedis(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        if (services.Any(d => d.ServiceType == typeof(RedisKeys)))
        {
            return services;
        }

        services.AddOptions<RedisOptions>().Bind(configuration.GetSection(RedisOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IConnectionMultiplexer>(sp => Connect(sp, "cocoon"));
        // The second connection, for the one blocking stream reader of this process; disposed with the host.
        services.TryAddSingleton(sp => new BlockingReads(Connect(sp, "cocoon-blocking")));
        services.AddSingleton(sp => new RedisKeys(sp.GetRequiredService<IOptions<RedisOptions>>().Value.Prefix));
        services.AddSingleton<WorkerRegistry>();
        services.AddSingleton<WorkerLeases>();
        services.AddSingleton<JobStreams>();
        services.AddSingleton<ResultStreams>();
        services.AddSingleton<JobCancellations>();
        services.TryAddSingleton<Providers.IProviderStore, Providers.RedisProviderStore>();
        services.AddSingleton<AttestationChallenges>();
        services.AddSingleton<Providers.ProviderDirectory>();
        services.AddSingleton<Access.WorkerAccess>();
        services.AddSingleton<Access.WorkerJoins>();
        services.AddSingleton<Access.ProviderWorkerControl>();
        services.AddRedisResilience();
        return services;
    }

    private static ConnectionMultiplexer Connect(IServiceProvider services, string clientName)
    {
        var options = services.GetRequiredService<IOptions<RedisOptions>>().Value;
        var config = RedisConnection.Configure(options);
        // Start even when Redis is not up yet (or restarting): commands fail fast and the loops retry.
        config.AbortOnConnectFail = false;
        config.ConnectRetry = 5;
        config.ClientName ??= clientName;
        return ConnectionMultiplexer.Connect(config);
    }
}
