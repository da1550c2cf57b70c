using System.Globalization;
using System.Text.Json;
using Cocoon.Network.Hosting;

namespace Cocoon.Bench;

/// <summary>What a benchmark gets: where to write its JSON, and cancellation (Ctrl+C).</summary>
public sealed class BenchContext(string outputDir, CancellationToken cancellationToken)
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public string OutputDir { get; } = outputDir;

    public CancellationToken CancellationToken { get; } = cancellationToken;

    /// <summary>Writes DATA/bench/NAME-TIMESTAMP.json and NAME.json (the latest); returns the first path.</summary>
    public async Task<string> WriteJsonAsync(string name, object result)
    {
        Directory.CreateDirectory(OutputDir);
        var stamp = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        var path = Path.Combine(OutputDir, $"{name}-{stamp}.json");
        var text = JsonSerializer.Serialize(result, Json);
        await File.WriteAllTextAsync(path, text, CancellationToken).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(OutputDir, name + ".json"), text, CancellationToken).ConfigureAwait(false);
        return path;
    }
}

public static class BenchRunner
{
    public static async Task<int> RunAsync(IReadOnlyDictionary<string, Func<BenchContext, Task>> benchmarks, string[] args)
    {
        ArgumentNullException.ThrowIfNull(benchmarks);
        ArgumentNullException.ThrowIfNull(args);
        var unknown = args.Where(a => !benchmarks.ContainsKey(a)).ToList();
        if (unknown.Count > 0)
        {
            await Console.Error.WriteLineAsync($"unknown benchmark {string.Join(", ", unknown)}; known: {string.Join(", ", benchmarks.Keys)}").ConfigureAwait(false);
            return 2;
        }

        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cts.Cancel();
        };
        var dataDir = Environment.GetEnvironmentVariable("COCOON_DATA") is { Length: > 0 } d ? d : CocoonEnvironment.DefaultDataDir;
        var context = new BenchContext(Path.Combine(Path.GetFullPath(dataDir), "bench"), cts.Token);
        foreach (var name in args.Length > 0 ? args : benchmarks.Keys)
        {
            Console.WriteLine($"== {name} ==");
            await benchmarks[name](context).ConfigureAwait(false);
        }

        return 0;
    }
}
