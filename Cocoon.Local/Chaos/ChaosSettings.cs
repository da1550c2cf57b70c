using System.Globalization;

namespace Cocoon.Local.Chaos;

/// <summary>
/// What <c>./cocoon chaos</c> runs: how many streamed requests, how many at a time, and the programs <c>up</c> starts
/// (the <c>cocoon</c> script passes --gateway and --worker as it does for <c>up</c>).
/// </summary>
internal sealed record ChaosSettings(int Jobs, int Concurrency, int MaxTokens, TimeSpan RequestTimeout, string GatewayExe, string WorkerExe, bool Keep = false)
{
    public const int Gateways = 2;
    public const int Workers = 3;

    /// <summary>The share of jobs a worker kill should hit (re-dispatched because their worker died).</summary>
    public const double WorkerKillShare = 0.10;

    /// <summary>
    /// The stack's hold lifetime: a hold is taken after the claim and settled by the request's deadline, so the
    /// request timeout plus a margin covers every job, and the holds a killed gateway leaves behind expire soon
    /// enough to be seen expiring within the run (the production default is 15 minutes).
    /// </summary>
    public TimeSpan HoldTtl => RequestTimeout + TimeSpan.FromSeconds(15);

    public static TimeSpan SweepInterval => TimeSpan.FromSeconds(5);

    public const string Usage =
        "usage: Cocoon.Local chaos --gateway PATH --worker PATH [--jobs N] [--concurrency C] [--max-tokens M] [--timeout SECONDS] [--keep]   (./cocoon chaos passes the paths)";

    public static ChaosSettings Parse(string[] args)
    {
        int jobs = 200, concurrency = 8, maxTokens = 12, timeout = 60;
        string? gateway = null, worker = null;
        var keep = false;
        for (var i = 0; i < args.Length; i++)
        {
            var value = i + 1 < args.Length ? args[i + 1] : null;
            switch (args[i])
            {
                case "--jobs":
                    jobs = Number("--jobs", value, 1, 100_000);
                    break;
                case "--concurrency":
                    concurrency = Number("--concurrency", value, 1, 256);
                    break;
                case "--max-tokens":
                    maxTokens = Number("--max-tokens", value, 1, 256);
                    break;
                case "--timeout":
                    timeout = Number("--timeout", value, 5, 600);
                    break;
                case "--keep":
                    keep = true;
                    i--; // takes no value
                    break;
                case "--gateway":
                    gateway = Program("--gateway", value, "Cocoon.Bot");
                    break;
                case "--worker":
                    worker = Program("--worker", value, "Cocoon.Worker");
                    break;
                default:
                    throw new ChaosSettingsException($"unknown argument '{args[i]}'.");
            }

            i++;
        }

        return new ChaosSettings(jobs, concurrency, maxTokens, TimeSpan.FromSeconds(timeout),
            gateway ?? throw new ChaosSettingsException("the gateway program is not given: pass --gateway PATH with the built Cocoon.Bot; ./cocoon chaos does this."),
            worker ?? throw new ChaosSettingsException("the worker program is not given: pass --worker PATH with the built Cocoon.Worker; ./cocoon chaos does this."),
            keep);
    }

    private static int Number(string option, string? value, int min, int max) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n
            : throw new ChaosSettingsException($"{option} must be a whole number from {min} to {max}, not '{value}'.");

    private static string Program(string option, string? value, string project)
    {
        if (value is not { Length: > 0 })
        {
            throw new ChaosSettingsException($"{option} needs the path of the built {project}.");
        }

        var path = Path.GetFullPath(value);
        return File.Exists(path) ? path : throw new ChaosSettingsException($"{option}: {path} does not exist; build the solution (./cocoon chaos does).");
    }
}

/// <summary>An argument chaos cannot run with; the message names it and the fix.</summary>
internal sealed class ChaosSettingsException(string message) : Exception(message);
