using Microsoft.Extensions.Hosting;

namespace Cocoon.Ledger.Chain;

/// <summary>Applies the chain-state migrations at start, before the deposit watcher and payout sender begin.</summary>
internal sealed class ChainMigrationService(ChainDatabase database) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => database.MigrateAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
