using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Data;
using Cocoon.Ledger.Deposits;
using Cocoon.Ledger.Payouts;
using Cocoon.Ledger.Ton;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Cocoon.Ledger.Chain;

public static class ChainSetup
{
    /// <summary>
    /// Registers the TON side: options (section "Ton", validated at start), the toncenter client, the network
    /// wallet, invoices, payouts and the chain-state database. Add <see cref="AddTonBackgroundServices"/> to also run
    /// the deposit watcher and the payout sender. <see cref="ILedger"/> must be registered by the ledger.
    /// </summary>
    public static IServiceCollection AddTonChain(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<TonOptions>().Bind(configuration.GetSection(TonOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<NetworkWallet>();

        // Wallet login (ton_proof) is on only where the Mini App's domain is set: `up` and API-only gateways run
        // without one, and the Mini App then answers 503 saying which setting turns it on.
        if (configuration.GetSection(TonProofOptions.Section + ":AllowedDomains").GetChildren().Any())
        {
            services.AddOptions<TonProofOptions>().Bind(configuration.GetSection(TonProofOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
            services.AddSingleton<IValidateOptions<TonProofOptions>, TonProofOptionsValidator>();
            services.TryAddSingleton<ITonProofNonces, InMemoryTonProofNonces>();
            services.AddSingleton<TonProofVerifier>();
        }
        services.AddHttpClient<ToncenterClient>((sp, http) =>
        {
            var o = sp.GetRequiredService<IOptions<TonOptions>>().Value;
            var url = o.ApiUrl!.ToString();
            http.BaseAddress = new Uri(url.EndsWith('/') ? url : url + "/");
            http.Timeout = TimeSpan.FromSeconds(30);
            if (o.ApiKey is { Length: > 0 } key)
            {
                http.DefaultRequestHeaders.Add("X-API-Key", key);
            }
        });
        services.TryAddSingleton(sp => LedgerServiceCollectionExtensions.CreateDatabase(configuration, sp.GetService<IOptions<LedgerOptions>>()?.Value));
        services.TryAddSingleton<ChainDatabase>();
        services.AddScoped(sp => sp.GetRequiredService<ChainDatabase>().CreateContext());
        services.AddHostedService<ChainMigrationService>();
        services.AddScoped<DepositInvoices>();
        services.AddScoped<DepositProcessor>();
        services.AddScoped<PayoutRequests>();
        services.AddScoped<PayoutSender>();
        services.AddScoped<Receipts.ReceiptRootCommitter>();
        services.AddScoped<ThresholdPayouts>();
        services.AddTransient<Stake.StakeReader>();
        services.AddTransient<Stake.SlashSender>();
        return services;
    }

    /// <summary>True when no chain API is configured, so `up` should start the local chain (Ton:ApiUrl empty).</summary>
    public static bool UsesLocalChain(IConfiguration configuration) =>
        string.IsNullOrWhiteSpace(configuration?[$"{TonOptions.Section}:ApiUrl"]);

    public static IServiceCollection AddTonBackgroundServices(this IServiceCollection services)
    {
        services.AddHostedService<DepositWatcher>();
        services.AddHostedService<PayoutService>();
        return services;
    }

    /// <summary>Applies the chain-state migrations (call at start, before the background services run).</summary>
    public static Task MigrateChainDatabaseAsync(this IServiceProvider services, CancellationToken cancellationToken) =>
        services.GetRequiredService<ChainDatabase>().MigrateAsync(cancellationToken);
}
