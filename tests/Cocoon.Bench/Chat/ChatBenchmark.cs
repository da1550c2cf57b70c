using System.Diagnostics;
using System.Globalization;
using System.Text;
using Cocoon.Bench.Llama;
using Cocoon.Engine.Protocol;
using Cocoon.Testing;
using Cocoon.Worker.Inference;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cocoon.Bench.Chat;

/// <summary>
/// `./cocoon bench chat`: a 10-turn conversation on the ~315M model of `bench llama-q8`, each turn adding about 100
/// tokens to the history (the previous answer and the next question), time to first token per turn for the worker's
/// inference service with its prefix cache (the job carries a cache scope) and without it (no scope), beside
/// llama-server built from the same llama.cpp source with cache_prompt, in the same run. The three are interleaved turn
/// by turn so all see the same moments of a shared machine. The history is scripted (the same text for every engine),
/// so every engine gets the same prompt at every turn; each turn then generates a few tokens, greedy.
/// </summary>
public static class ChatBenchmark
{
    private const int Turns = 10;
    private const int NewTokensPerTurn = 100;
    private const int AnswerTokens = 16;
    private const int ContextSize = 2048;

    private static readonly int Conversations = int.TryParse(Environment.GetEnvironmentVariable("COCOON_BENCH_CHAT_CONVERSATIONS"), CultureInfo.InvariantCulture, out var c) && c > 0 ? c : 2;

    private static readonly string[] Sentences =
    [
        "The little girl went to the park with her mother and saw a big red ball under the tree.",
        "Why did the dog run after the cat when it saw the bird sitting on the fence by the river?",
        "Once upon a time there was a happy boy named Tim who liked to draw pictures of the sun and the sea.",
        "Can you tell me a story about a small fish that wanted to swim to the other side of the lake?",
        "They played together all day long, and when the sun went down they went home to eat soup.",
        "What happened to the old man who lived in the house on the hill with his three grey cats?",
    ];

    public static async Task RunAsync(BenchContext bench)
    {
        ArgumentNullException.ThrowIfNull(bench);
        var ct = bench.CancellationToken;
        var (model, label) = await LlamaBenchmark.EnsureLargeModelAsync(bench).ConfigureAwait(false);
        var threads = LlamaBenchmark.Threads;
        using var data = new TempDir("cocoon-bench-chat");
        var options = new LlamaInferenceOptions
        {
            Model = model,
            LibraryDir = Environment.GetEnvironmentVariable("COCOON_LLAMA_LIB_DIR"),
            Threads = threads,
            ContextSize = ContextSize,
            // One sequence for the cached conversation, one for the uncached turn beside it.
            MaxConcurrency = 2,
            DataDir = data.Path,
        };
        var notes = new List<string>();
        var serverPath = LlamaServer.Find(out var missing);
        if (missing is not null)
        {
            notes.Add(missing);
        }

        using var service = await LlamaInferenceService.LoadAsync(options, NullLoggerFactory.Instance, TimeProvider.System, null, ct).ConfigureAwait(false);
        using var server = serverPath is null ? null : await LlamaServer.StartAsync(serverPath, model, threads, slots: 1, ContextSize, ct).ConfigureAwait(false);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{label}, {threads} threads, {Turns} turns of ~{NewTokensPerTurn} new tokens, {AnswerTokens} tokens answered per turn (greedy), {Conversations} conversations, context {ContextSize}"));

        // Warm-up: every engine once on an unrelated prompt.
        var warm = new GenerationRequest { Prompt = "Hello there.", Sampling = new SamplingOptions { MaxTokens = 4, Temperature = 0 } };
        await OursAsync(service, warm, ct).ConfigureAwait(false);
        if (server is not null)
        {
            await server.CompleteAsync(warm.Prompt!, 4, cachePrompt: false, ct).ConfigureAwait(false);
        }

        // turns[conversation][turn]
        var measured = new List<List<Turn>>();
        for (var conversation = 0; conversation < Conversations; conversation++)
        {
            var prompts = Script(service, conversation);
            var scope = "bench-chat-" + conversation.ToString(CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N");
            var turns = new List<Turn>();
            for (var turn = 0; turn < Turns; turn++)
            {
                var sampling = new SamplingOptions { MaxTokens = AnswerTokens, Temperature = 0 };
                var cached = await OursAsync(service, new GenerationRequest { Prompt = prompts[turn], Sampling = sampling, CacheScope = scope }, ct).ConfigureAwait(false);
                var peer = server is null ? null : await server.CompleteAsync(prompts[turn], AnswerTokens, cachePrompt: true, ct).ConfigureAwait(false);
                var uncached = await OursAsync(service, new GenerationRequest { Prompt = prompts[turn], Sampling = sampling }, ct).ConfigureAwait(false);
                turns.Add(new Turn(turn + 1, cached.PromptTokens, cached.FirstTokenMs, cached.CachedTokens, uncached.FirstTokenMs, peer?.FirstTokenMs, peer?.CachedTokens));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  conversation {conversation + 1} turn {turn + 1}: {cached.PromptTokens} prompt tokens; cache {cached.FirstTokenMs:F0} ms, no cache {uncached.FirstTokenMs:F0} ms, llama-server {Show(peer?.FirstTokenMs)} ms"));
            }

            measured.Add(turns);
        }

        // Per turn, the best of the conversations for each engine: the least disturbed sample on a shared machine.
        var best = Enumerable.Range(0, Turns).Select(t => new Turn(
            t + 1,
            measured[0][t].PromptTokens,
            measured.Min(m => m[t].CachedMs),
            measured[0][t].CachedTokens,
            measured.Min(m => m[t].UncachedMs),
            server is null ? null : measured.Min(m => m[t].ServerMs!.Value),
            measured[0][t].ServerCachedTokens)).ToList();

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{"turn",4} {"prompt tok",10} {"cocoon cache ms",16} {"(reused)",8} {"cocoon no cache ms",19} {"llama-server cache_prompt ms",29} {"(reused)",8} {"cache/no cache",15} {"cocoon/server",14}"));
        foreach (var t in best)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{t.Number,4} {t.PromptTokens,10} {t.CachedMs,16:F1} {t.CachedTokens,8} {t.UncachedMs,19:F1} {Show(t.ServerMs),29} {Show(t.ServerCachedTokens),8} {t.CachedMs / t.UncachedMs,15:F3} {Ratio(t.CachedMs, t.ServerMs),14}"));
        }

        var last = best[^1];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"turn {Turns} time to first token, cache / no cache: {last.CachedMs / last.UncachedMs:F3}x (goal <= 0.1): {(last.CachedMs / last.UncachedMs <= 0.1 ? "met" : "not met")}"));
        if (last.ServerMs is { } serverMs)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"turn {Turns} time to first token, cocoon cache / llama-server cache_prompt: {last.CachedMs / serverMs:F3}x (goal <= 1.0, no worse): {(last.CachedMs <= serverMs ? "met" : "not met")}"));
        }

        foreach (var (turns, i) in measured.Select((m, i) => (m, i)))
        {
            // Each conversation's own turn-10 ratios: the three engines ran within seconds of each other.
            var t = turns[^1];
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  conversation {i + 1}, turn {Turns}: cocoon cache {t.CachedMs:F1} ms, no cache {t.UncachedMs:F1} ms, llama-server {Show(t.ServerMs)} ms; cache/no cache {t.CachedMs / t.UncachedMs:F3}x, cocoon/server {Ratio(t.CachedMs, t.ServerMs)}"));
        }

        var cache = service.CacheStats;
        Console.WriteLine($"prefix cache: {cache}");
        var load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a";
        Console.WriteLine($"load average: {load} on {Environment.ProcessorCount} cores");
        foreach (var note in notes)
        {
            Console.WriteLine("note: " + note);
        }

        var path = await bench.WriteJsonAsync("chat", new
        {
            model = label,
            threads,
            turns = Turns,
            answerTokens = AnswerTokens,
            conversations = Conversations,
            loadAverage = load,
            best,
            measured,
            notes,
        }).ConfigureAwait(false);
        Console.WriteLine($"json: {path}");
    }

    /// <summary>
    /// The prompts of one conversation: turn k's prompt is the history of turns 1..k-1 (question and a scripted answer
    /// each) plus question k. Questions and answers grow sentence by sentence until a turn adds at least
    /// NewTokensPerTurn tokens to the previous prompt. The conversation's number starts it, so no two share a prefix.
    /// </summary>
    private static List<string> Script(LlamaInferenceService service, int conversation)
    {
        int Tokens(string text) => service.Prepare(new GenerationRequest { Prompt = text, Sampling = new SamplingOptions { MaxTokens = 1 } }).Length;
        var history = new StringBuilder(string.Create(CultureInfo.InvariantCulture, $"Conversation {conversation + 1}. A friendly assistant tells stories to a child.\n"));
        var prompts = new List<string>();
        var sentence = conversation;
        string Next() => Sentences[sentence++ % Sentences.Length];
        for (var turn = 0; turn < Turns; turn++)
        {
            var before = turn == 0 ? 0 : Tokens(prompts[^1]);
            if (turn > 0)
            {
                // The previous turn's answer, then this turn's question: together about NewTokensPerTurn tokens.
                history.Append(' ').Append(Next());
            }

            history.Append("\nUser: ").Append(Next());
            while (Tokens(history + "\nAssistant:") - before < NewTokensPerTurn)
            {
                history.Append(' ').Append(Next());
            }

            history.Append("\nAssistant:");
            prompts.Add(history.ToString());
        }

        return prompts;
    }

    private static async Task<(double FirstTokenMs, int PromptTokens, int CachedTokens)> OursAsync(LlamaInferenceService service, GenerationRequest request, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        double first = -1;
        GenerationUsage? usage = null;
        await foreach (var chunk in service.GenerateAsync(request, ct).ConfigureAwait(false))
        {
            // The first chunk that carries a token, as for llama-server (its text may be empty: an incomplete UTF-8 piece).
            if (first < 0 && (chunk.Text.Length > 0 || chunk.CompletionTokens > 0))
            {
                first = watch.Elapsed.TotalMilliseconds;
            }

            usage = chunk.Usage ?? usage;
        }

        return (first, usage!.PromptTokens, usage.CachedTokens);
    }

    private static string Show(double? value) => value is { } v ? v.ToString("F1", CultureInfo.InvariantCulture) : "-";

    private static string Show(int? value) => value is { } v ? v.ToString(CultureInfo.InvariantCulture) : "-";

    private static string Ratio(double a, double? b) => b is { } v && v > 0 ? (a / v).ToString("F3", CultureInfo.InvariantCulture) + "x" : "-";

    /// <param name="CachedTokens">Prompt tokens our worker took from its prefix cache.</param>
    /// <param name="ServerCachedTokens">Prompt tokens llama-server reused from its slot (timings.cache_n).</param>
    private sealed record Turn(int Number, int PromptTokens, double CachedMs, int CachedTokens, double UncachedMs, double? ServerMs, int? ServerCachedTokens);
}
