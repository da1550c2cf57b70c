using Cocoon.Bot.Billing;
using Cocoon.Bot.Reputation;
using Cocoon.Bot.Receipts;
using Cocoon.Network.Transport;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Cocoon.Bot.Dispatch;

public static class DispatchServiceCollectionExtensions
{
    /// <summary>
    /// The dispatcher and what it needs: Redis transport (Redis:*), the policy-checked worker directory and the result
    /// router (both hosted services), metrics (Meter "Cocoon.Gateway"), worker choice, the attempt runner and job billing
    /// (Pricing:*). ILedger comes from AddCocoonLedger.
    /// </summary>
    public static IServiceCollection AddDispatch(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<DispatchOptions>().Bind(configuration.GetSection(DispatchOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddCocoonRedis(configuration);
        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<GatewayMetrics>();
        services.TryAddSingleton<GatewayIdentity>();
        services.AddJobBilling(configuration);
        services.TryAddSingleton<WorkerDirectory>();
        services.TryAddSingleton<ResultRouter>();
        services.AddHostedService(sp => sp.GetRequiredService<WorkerDirectory>());
        services.AddHostedService(sp => sp.GetRequiredService<ResultRouter>());
        services.TryAddSingleton<CacheScopes>();
        services.TryAddSingleton(sp =>
        {
            var queue = new AdmissionQueue(sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<DispatchOptions>>().Value.QueueDepth, sp.GetRequiredService<TimeProvider>());
            sp.GetRequiredService<GatewayMetrics>().ObserveAdmissionQueue(() => queue.TotalDepth);
            return queue;
        });
        services.TryAddSingleton<ProviderReputation>();
        services.TryAddSingleton<ReputationBook>();
        services.AddHostedService(sp => sp.GetRequiredService<ReputationBook>());
        services.TryAddSingleton<WorkerOutcomes>();
        services.TryAddSingleton<SlaRefunds>();
        services.TryAddSingleton<NetworkJobPayments>();
        services.TryAddSingleton<UnbilledJobs>();
        services.TryAddSingleton<Replays>();
        services.TryAddSingleton<ReceiptAudit>();
        services.TryAddSingleton<Canaries>();
        services.AddHostedService(sp => sp.GetRequiredService<Canaries>());
        Slashing.SlashingServiceCollectionExtensions.AddSlashing(services, configuration);
        services.TryAddSingleton<WorkerChoice>();
        services.TryAddSingleton<AttemptRunner>();
        services.TryAddSingleton<SealedRelay>();
        services.TryAddSingleton<FreshStatements>();
        services.TryAddSingleton<ReceiptBook>();
        services.TryAddSingleton<Dispatcher>();
        services.TryAddSingleton<IDispatcher>(sp => sp.GetRequiredService<Dispatcher>());
        return services;
    }
}
