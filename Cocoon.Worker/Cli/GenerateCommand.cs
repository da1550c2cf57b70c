using System.Globalization;
using Cocoon.Engine.Protocol;
using Microsoft.Extensions.Logging;

namespace Cocoon.Worker.Cli;

/// <summary>
/// generate --prompt TEXT [--model PATH] [--max-tokens N] [--temperature T] [--seed S] [--threads N] [--warmup true|false]:
/// the completion on stdout, then exactly one stats line on stderr that other tools parse:
/// "prompt 5 tok, 1234.5 tok/s; generation 128 tok, 2800.1 tok/s". The generation rate counts from the first token to
/// the last, after the model load and its warm-up (Llama:WarmUp; `--warmup false` skips it, as llama.cpp's --no-warmup).
/// </summary>
internal static class GenerateCommand
{
    public static Task<int> RunAsync(string[] args) => CliSupport.GuardAsync(async cancellationToken =>
    {
        var o = CliSupport.Options(args, "--prompt", "--model", "--max-tokens", "--temperature", "--seed", "--threads", "--warmup");
        if (!o.TryGetValue("--prompt", out var prompt))
        {
            return CliSupport.Usage(null);
        }

        var sampling = new SamplingOptions
        {
            MaxTokens = o.TryGetValue("--max-tokens", out var m) ? int.Parse(m, CultureInfo.InvariantCulture) : 128,
            Temperature = o.TryGetValue("--temperature", out var t) ? float.Parse(t, CultureInfo.InvariantCulture) : 0.8f,
            Seed = o.TryGetValue("--seed", out var s) ? uint.Parse(s, CultureInfo.InvariantCulture) : 42,
        };
        var overrides = new Dictionary<string, string?> { ["Llama:MaxConcurrency"] = "1" };
        if (o.TryGetValue("--model", out var model))
        {
            overrides["Worker:Model"] = model;
        }

        if (o.TryGetValue("--threads", out var threads))
        {
            overrides["Llama:Threads"] = threads;
        }

        if (o.TryGetValue("--warmup", out var warmUp))
        {
            overrides["Llama:WarmUp"] = bool.Parse(warmUp) ? "true" : "false";
        }

        using var loggers = CliSupport.Logging(LogLevel.Error);
        using var service = await CliSupport.LoadAsync(CliSupport.Configuration(overrides), loggers, cancellationToken).ConfigureAwait(false);

        GenerationUsage? usage = null;
        var stdout = Console.Out;

        // Console.Out is made on first use: make it now, not on a thread-pool thread while the first answer decodes.
        await stdout.FlushAsync(cancellationToken).ConfigureAwait(false);
        await foreach (var chunk in service.GenerateAsync(new GenerationRequest { Prompt = prompt, Sampling = sampling }, cancellationToken).ConfigureAwait(false))
        {
            if (chunk.Usage is { } u)
            {
                usage = u;
            }
            else
            {
                await stdout.WriteAsync(chunk.Text).ConfigureAwait(false);
                await stdout.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        await stdout.WriteLineAsync().ConfigureAwait(false);
        await stdout.FlushAsync(cancellationToken).ConfigureAwait(false);
        Console.Error.WriteLine(StatsLine(usage!));
        return usage!.FinishReason == FinishReason.Cancelled ? 130 : 0;
    });

    public static string StatsLine(GenerationUsage usage) => string.Create(
        CultureInfo.InvariantCulture,
        $"prompt {usage.PromptTokens} tok, {Rate(usage.PromptTokens, usage.PromptTime):F1} tok/s; generation {usage.CompletionTokens} tok, {Rate(usage.CompletionTokens, usage.GenerationTime):F1} tok/s");

    private static double Rate(int tokens, TimeSpan time) => time > TimeSpan.Zero ? tokens / time.TotalSeconds : 0;
}
