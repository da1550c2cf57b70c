using Cocoon.Network.Hosting;
using Cocoon.Worker.Inference;
using Cocoon.Worker.Native;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Cocoon.Worker.Cli;

/// <summary>What the worker's commands share: configuration, console logging, model loading with progress, errors.</summary>
internal static class CliSupport
{
    public static int Usage(string? command)
    {
        if (command is not null and not ("-h" or "--help" or "help"))
        {
            Console.Error.WriteLine($"cocoon: error: unknown command '{command}'");
        }

        Console.Error.WriteLine("""
            usage: Cocoon.Worker generate --prompt TEXT [--model PATH] [--max-tokens N] [--temperature T] [--seed S] [--threads N] [--warmup true|false]
                   Cocoon.Worker selfcheck [--model PATH] [--threads N]
                   Cocoon.Worker platform-key
                   Cocoon.Worker provider keygen [--key PATH] [--rotate]   (the provider's own key: make or show it)
                   Cocoon.Worker run       (serve from COCOON_REDIS directly: local development)
                   Cocoon.Worker join      (join the network at COCOON_JOIN_URL with COCOON_WORKER_TOKEN, then serve)
            """);
        return 2;
    }

    public static IConfiguration Configuration(IDictionary<string, string?> overrides) =>
        new ConfigurationBuilder()
            .SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true)
            .AddCocoonEnvironment()
            .AddInMemoryCollection(overrides)
            .Build();

    /// <summary>Logs to stderr only (stdout carries the completion); the CLI shows errors only.</summary>
    public static ILoggerFactory Logging(LogLevel minimum) =>
        LoggerFactory.Create(b => b
            .SetMinimumLevel(minimum)
            .AddSimpleConsole(o => o.SingleLine = true)
            .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace));

    public static async Task<LlamaInferenceService> LoadAsync(IConfiguration configuration, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var options = LlamaInferenceOptions.FromConfiguration(configuration);

        // A progress bar only on a terminal, and erased afterwards, so scripts still see a single stats line.
        var progress = Console.IsErrorRedirected ? null : new ConsoleProgress();
        try
        {
            return await LlamaInferenceService.LoadAsync(options, loggers, TimeProvider.System, progress, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            progress?.Erase();
        }
    }

    /// <summary>Writes synchronously from llama.cpp's loading thread, so nothing is printed after Erase.</summary>
    private sealed class ConsoleProgress : IProgress<float>
    {
        private readonly Lock _gate = new();
        private bool _done;

        public void Report(float value)
        {
            lock (_gate)
            {
                if (!_done)
                {
                    Console.Error.Write($"\rloading model {value * 100,3:F0}%");
                }
            }
        }

        public void Erase()
        {
            lock (_gate)
            {
                _done = true;
                Console.Error.Write("\r                    \r");
            }
        }
    }

    /// <summary>Runs a command body, turning the errors a user can fix into one message and exit code 1.</summary>
    public static async Task<int> GuardAsync(Func<CancellationToken, Task<int>> body)
    {
        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cts.Cancel();
        };
        try
        {
            return await body(cts.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is LlamaException or IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException or FormatException)
        {
            Console.Error.WriteLine("cocoon: error: " + ex.Message);
            return 1;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("cocoon: cancelled");
            return 130;
        }
    }

    /// <summary>Parses --name value pairs; unknown names are errors.</summary>
    public static Dictionary<string, string> Options(string[] args, params string[] allowed)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            if (!allowed.Contains(name))
            {
                throw new ArgumentException($"unknown option '{name}' (allowed: {string.Join(' ', allowed)})");
            }

            if (i + 1 >= args.Length)
            {
                throw new ArgumentException($"{name} needs a value");
            }

            result[name] = args[++i];
        }

        return result;
    }
}
