using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using LLama;
using LLama.Batched;
using LLama.Common;
using LLama.Native;
using LLama.Sampling;

namespace Cocoon.Bench.Llama;

/// <summary>
/// LLamaSharp 0.30.0 (with LLamaSharp.Backend.Cpu, its own llama.cpp build) as a peer of `bench llama` and
/// `bench llama-q8`: its StatelessExecutor for one stream, its BatchedExecutor for 8, same model, same threads, same
/// context per sequence, greedy. It runs in a child process of this program (`Cocoon.Bench --llamasharp-peer ...`), so
/// its llama.cpp and ggml never share a process with the worker's.
/// </summary>
public static class LlamaSharpPeer
{
    public const string Flag = "--llamasharp-peer";

    /// <summary>Runs the peer in a child process; returns prompt tok/s, generation tok/s (after the first token) and tokens, best of reps.</summary>
    public static async Task<(double Prompt, double Generation, int Tokens)> RunAsync(string model, int threads, int contextPerSequence, string prompt, int maxTokens, int streams, int reps, CancellationToken ct)
    {
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("no process path");
        var start = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Flag, model, Inv(threads), Inv(contextPerSequence), prompt, Inv(maxTokens), Inv(streams), Inv(reps) })
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the LLamaSharp peer");
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct).ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            var error = (await stderr.ConfigureAwait(false)).Trim();
            throw new InvalidOperationException($"LLamaSharp peer exit {process.ExitCode}: {error[Math.Max(0, error.Length - 600)..]}");
        }

        var line = (await stdout.ConfigureAwait(false)).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Last(l => l.StartsWith('{'));
        using var json = JsonDocument.Parse(line);
        var r = json.RootElement;
        return (r.GetProperty("prompt").GetDouble(), r.GetProperty("generation").GetDouble(), r.GetProperty("tokens").GetInt32());
    }

    /// <summary>The child process: args after the flag are model, threads, context per sequence, prompt, max tokens, streams, reps.</summary>
    public static async Task<int> MainAsync(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var (model, threads, context, prompt) = (args[0], int.Parse(args[1], CultureInfo.InvariantCulture), int.Parse(args[2], CultureInfo.InvariantCulture), args[3]);
        var (maxTokens, streams, reps) = (int.Parse(args[4], CultureInfo.InvariantCulture), int.Parse(args[5], CultureInfo.InvariantCulture), int.Parse(args[6], CultureInfo.InvariantCulture));
        NativeLogConfig.llama_log_set((_, _) => { });
        var parameters = new ModelParams(model)
        {
            ContextSize = (uint)(context * streams),
            SeqMax = (uint)streams,
            Threads = threads,
            BatchThreads = threads,
            GpuLayerCount = 0,
        };
        using var weights = await LLamaWeights.LoadFromFileAsync(parameters).ConfigureAwait(false);
        (double Prompt, double Generation, int Tokens)? best = null;
        // One warm-up run, then the best of reps (the machine is shared; the best run is the least disturbed).
        for (var i = 0; i <= reps; i++)
        {
            var m = streams == 1
                ? await StatelessAsync(weights, parameters, prompt, maxTokens).ConfigureAwait(false)
                : await BatchedAsync(weights, parameters, prompt, maxTokens, streams).ConfigureAwait(false);
            if (i > 0)
            {
                best = best is { } b ? (Math.Max(b.Prompt, m.Prompt), Math.Max(b.Generation, m.Generation), m.Tokens) : m;
            }
        }

        Console.WriteLine(JsonSerializer.Serialize(new { prompt = best!.Value.Prompt, generation = best.Value.Generation, tokens = best.Value.Tokens }));
        return 0;
    }

    // StatelessExecutor: a fresh context per call (that is what stateless means), the prompt, then one token per step.
    // The first token comes out of the prompt step, as in the other rows.
    private static async Task<(double Prompt, double Generation, int Tokens)> StatelessAsync(LLamaWeights weights, ModelParams parameters, string prompt, int maxTokens)
    {
        var executor = new StatelessExecutor(weights, parameters);
        var promptTokens = weights.Tokenize(prompt, true, false, System.Text.Encoding.UTF8).Length;
        var inference = new InferenceParams { MaxTokens = maxTokens, SamplingPipeline = new GreedySamplingPipeline() };
        var watch = Stopwatch.StartNew();
        double first = -1;
        var tokens = 0;
        await foreach (var _ in executor.InferAsync(prompt, inference).ConfigureAwait(false))
        {
            tokens++;
            if (first < 0)
            {
                first = watch.Elapsed.TotalSeconds;
            }
        }

        var end = watch.Elapsed.TotalSeconds;
        return (promptTokens / first, (tokens - 1) / (end - first), tokens);
    }

    // BatchedExecutor: one conversation per stream, all prompts decoded in the first Infer, then one token per
    // conversation per Infer, MaxTokens per stream (no early stop, as llama-batched-bench).
    private static async Task<(double Prompt, double Generation, int Tokens)> BatchedAsync(LLamaWeights weights, ModelParams parameters, string prompt, int maxTokens, int streams)
    {
        using var executor = new BatchedExecutor(weights, parameters);
        var tokens = executor.Context.Tokenize(prompt, true, false);
        var samplers = Enumerable.Range(0, streams).Select(_ => new GreedySamplingPipeline()).ToList();
        var conversations = Enumerable.Range(0, streams).Select(_ => executor.Create()).ToList();
        try
        {
            var watch = Stopwatch.StartNew();
            foreach (var c in conversations)
            {
                c.Prompt(tokens);
            }

            double promptSeconds = 0;
            for (var step = 0; step < maxTokens; step++)
            {
                var result = await executor.Infer().ConfigureAwait(false);
                if (result != DecodeResult.Ok)
                {
                    throw new InvalidOperationException("BatchedExecutor.Infer: " + result);
                }

                for (var i = 0; i < streams; i++)
                {
                    var token = samplers[i].Sample(executor.Context.NativeHandle, conversations[i].GetSampleIndex());
                    conversations[i].Prompt(token);
                }

                if (step == 0)
                {
                    promptSeconds = watch.Elapsed.TotalSeconds;
                }
            }

            // The last Prompt(token) is queued but not decoded: maxTokens sampled tokens per stream, maxTokens - 1 of
            // them after the prompt step.
            var generationSeconds = watch.Elapsed.TotalSeconds - promptSeconds;
            return (streams * tokens.Length / promptSeconds, streams * (maxTokens - 1) / generationSeconds, streams * maxTokens);
        }
        finally
        {
            foreach (var c in conversations)
            {
                c.Dispose();
            }

            foreach (var s in samplers)
            {
                s.Dispose();
            }
        }
    }

    private static string Inv(int value) => value.ToString(CultureInfo.InvariantCulture);
}
