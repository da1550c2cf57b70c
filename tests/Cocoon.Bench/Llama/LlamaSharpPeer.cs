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
/// its llama.cpp and ggml never share a process with the worker's. The child loads the model once and then measures
/// one run per line it reads (the stream count), so the bench can alternate it with its own runs, run for run.
/// </summary>
public sealed class LlamaSharpPeer : IDisposable
{
    public const string Flag = "--llamasharp-peer";

    private readonly Process _process;
    private readonly Task<string> _stderr;

    private LlamaSharpPeer(Process process)
    {
        _process = process;
        _stderr = process.StandardError.ReadToEndAsync();
    }

    /// <summary>Starts the child process, which loads the model and waits for stream counts on its standard input.</summary>
    public static LlamaSharpPeer Start(string model, int threads, int contextPerSequence, string prompt, int maxTokens)
    {
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("no process path");
        var start = new ProcessStartInfo(self) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Flag, model, Inv(threads), Inv(contextPerSequence), prompt, Inv(maxTokens) })
        {
            start.ArgumentList.Add(a);
        }

        return new LlamaSharpPeer(Process.Start(start) ?? throw new InvalidOperationException("could not start the LLamaSharp peer"));
    }

    /// <summary>One run of <paramref name="streams"/> streams: prompt tok/s, generation tok/s (after the first token), tokens.</summary>
    public async Task<(double Prompt, double Generation, int Tokens)> MeasureAsync(int streams, CancellationToken ct)
    {
        await _process.StandardInput.WriteLineAsync(Inv(streams).AsMemory(), ct).ConfigureAwait(false);
        await _process.StandardInput.FlushAsync(ct).ConfigureAwait(false);
        while (await _process.StandardOutput.ReadLineAsync(ct).ConfigureAwait(false) is { } line)
        {
            if (line.StartsWith('{'))
            {
                using var json = JsonDocument.Parse(line);
                var r = json.RootElement;
                return (r.GetProperty("prompt").GetDouble(), r.GetProperty("generation").GetDouble(), r.GetProperty("tokens").GetInt32());
            }
        }

        await _process.WaitForExitAsync(ct).ConfigureAwait(false);
        var error = (await _stderr.ConfigureAwait(false)).Trim();
        throw new InvalidOperationException($"LLamaSharp peer exit {_process.ExitCode}: {error[Math.Max(0, error.Length - 600)..]}");
    }

    public void Dispose()
    {
        try
        {
            // End of input ends the child; a child stuck in a run is killed.
            _process.StandardInput.Close();
            if (!_process.WaitForExit(TimeSpan.FromSeconds(30)))
            {
                _process.Kill();
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        catch (IOException)
        {
            // Its input pipe closed with it.
        }

        _process.Dispose();
    }

    /// <summary>The child process: args after the flag are model, threads, context per sequence, prompt, max tokens; each input line is a stream count.</summary>
    public static async Task<int> MainAsync(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var (model, threads, context, prompt) = (args[0], int.Parse(args[1], CultureInfo.InvariantCulture), int.Parse(args[2], CultureInfo.InvariantCulture), args[3]);
        var maxTokens = int.Parse(args[4], CultureInfo.InvariantCulture);
        NativeLogConfig.llama_log_set((_, _) => { });
        ModelParams Parameters(int streams) => new(model)
        {
            ContextSize = (uint)(context * streams),
            SeqMax = (uint)streams,
            Threads = threads,
            BatchThreads = threads,
            GpuLayerCount = 0,
        };
        using var weights = await LLamaWeights.LoadFromFileAsync(Parameters(1)).ConfigureAwait(false);
        while (await Console.In.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            if (!int.TryParse(line, CultureInfo.InvariantCulture, out var streams) || streams < 1)
            {
                continue;
            }

            var m = streams == 1
                ? await StatelessAsync(weights, Parameters(1), prompt, maxTokens).ConfigureAwait(false)
                : await BatchedAsync(weights, Parameters(streams), prompt, maxTokens, streams).ConfigureAwait(false);
            Console.WriteLine(JsonSerializer.Serialize(new { prompt = m.Prompt, generation = m.Generation, tokens = m.Tokens }));
            Console.Out.Flush();
        }

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
