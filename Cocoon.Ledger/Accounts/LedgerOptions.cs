using Microsoft.Extensions.Options;

namespace Cocoon.Ledger.Accounts;

/// <summary>Configuration section "Ledger".</summary>
public sealed class LedgerOptions
{
    public const string Section = "Ledger";

    /// <summary>
    /// Empty: a SQLite file ledger.db in the data folder (COCOON_DATA). "Data Source=/path/file.db": that SQLite file.
    /// "Host=...;Database=...;Username=...": PostgreSQL.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>How long a hold lives unsettled before the sweeper releases it. Longer than the longest job.</summary>
    public TimeSpan HoldTtl { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>How often expired holds are released.</summary>
    public TimeSpan ExpirySweepInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Most ledger operations committed in one transaction by the writer (1 = one transaction per operation).</summary>
    public int MaxBatch { get; set; } = 512;
}

internal sealed class LedgerOptionsValidator : IValidateOptions<LedgerOptions>
{
    public ValidateOptionsResult Validate(string? name, LedgerOptions options)
    {
        var errors = new List<string>();
        if (options.HoldTtl <= TimeSpan.Zero)
        {
            errors.Add($"Ledger:HoldTtl must be positive (got {options.HoldTtl}); set it to e.g. 00:15:00.");
        }

        if (options.ExpirySweepInterval <= TimeSpan.Zero)
        {
            errors.Add($"Ledger:ExpirySweepInterval must be positive (got {options.ExpirySweepInterval}); set it to e.g. 00:00:30.");
        }

        if (options.MaxBatch is < 1 or > 10_000)
        {
            errors.Add($"Ledger:MaxBatch must be between 1 and 10000 (got {options.MaxBatch}); the default is 512.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
