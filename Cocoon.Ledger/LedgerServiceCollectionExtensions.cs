using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Data;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Cocoon.Ledger;

public static class LedgerServiceCollectionExtensions
{
    /// <summary>The default data folder when Cocoon:DataDir (COCOON_DATA) is not set; the same as Cocoon.Engine's.</summary>
    public const string DefaultDataDir = ".cocoon";

    /// <summary>
    /// Registers the ledger: <see cref="ILedger"/>, <see cref="ILedgerAccounts"/> (one <see cref="JournalLedger"/>),
    /// <see cref="LedgerDatabase"/>, the migrations at start and the expired-hold sweeper.
    /// Reads Ledger:ConnectionString (default: a SQLite file ledger.db in Cocoon:DataDir).
    /// </summary>
    public static IServiceCollection AddCocoonLedger(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);

        services.AddOptions<LedgerOptions>().Bind(configuration.GetSection(LedgerOptions.Section)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<LedgerOptions>, LedgerOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => CreateDatabase(configuration, sp.GetRequiredService<IOptions<LedgerOptions>>().Value));
        services.TryAddSingleton<JournalLedger>();
        services.TryAddSingleton<ILedger>(sp => sp.GetRequiredService<JournalLedger>());
        services.TryAddSingleton<ILedgerAccounts>(sp => sp.GetRequiredService<JournalLedger>());
        services.TryAddSingleton<Receipts.ReceiptStore>();
        services.AddHostedService<LedgerMigrationService>();
        services.AddHostedService<HoldExpiryService>();
        return services;
    }

    /// <summary>The ledger database that configuration names (also used by `cocoon ledger check`).</summary>
    public static LedgerDatabase CreateDatabase(IConfiguration configuration, LedgerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var connectionString = options?.ConnectionString ?? configuration[$"{LedgerOptions.Section}:ConnectionString"];
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            var dataDir = Path.GetFullPath(configuration["Cocoon:DataDir"] is { Length: > 0 } d ? d : DefaultDataDir);
            connectionString = LedgerDatabase.DefaultConnectionString(dataDir);
        }

        return new LedgerDatabase(connectionString);
    }
}
