using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Cocoon.Bench.Llama;

/// <summary>
/// llama.cpp's own OpenAI-compatible server (llama-server), built by ./cocoon from the exact source of the libraries the
/// worker loads and linked against them, as a same-run peer. One process on a free loopback port; disposed = killed.
/// </summary>
public sealed class LlamaServer : IDisposable
{
    private readonly Process _process;
    private readonly HttpClient _http;
    private readonly StringBuilder _log = new();

    private LlamaServer(Process process, int port)
    {
        _process = process;
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromMinutes(15) };
    }

    /// <summary>The executable, or null with the reason when ./cocoon has not built it.</summary>
    public static string? Find(out string? reason)
    {
        var tools = Environment.GetEnvironmentVariable("COCOON_LLAMA_TOOLS_DIR");
        var libraries = Environment.GetEnvironmentVariable("COCOON_LLAMA_LIB_DIR");
        var path = tools is { Length: > 0 } ? Path.Combine(tools, "llama-server") : null;
        reason = path is null || libraries is not { Length: > 0 }
            ? "llama.cpp tools not built: run ./cocoon bench (it builds llama-server against the same libraries)"
            : File.Exists(path) ? null : $"{path} is missing: run ./cocoon bench (it builds llama-server)";
        return reason is null ? path : null;
    }

    /// <summary>
    /// Starts llama-server on <paramref name="model"/> with <paramref name="threads"/> threads for generation and
    /// prompt, <paramref name="slots"/> parallel slots sharing <paramref name="contextPerSlot"/> x slots cells, and
    /// waits until it answers /health.
    /// </summary>
    public static async Task<LlamaServer> StartAsync(string executable, string model, int threads, int slots, int contextPerSlot, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(executable);
        var port = FreePort();
        // The tools load the CPU backend plugins from their working folder, the libraries' folder.
        var start = new ProcessStartInfo(executable)
        {
            WorkingDirectory = Environment.GetEnvironmentVariable("COCOON_LLAMA_LIB_DIR")!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[]
        {
            "-m", model, "--host", "127.0.0.1", "--port", Inv(port), "-t", Inv(threads), "-tb", Inv(threads),
            "-np", Inv(slots), "-c", Inv(slots * contextPerSlot), "--no-webui",
        })
        {
            start.ArgumentList.Add(a);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start " + executable);
        var server = new LlamaServer(process, port);
        process.OutputDataReceived += (_, e) => server.Append(e.Data);
        process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var deadline = Stopwatch.StartNew();
            while (true)
            {
                ct.ThrowIfCancellationRequested();
                if (process.HasExited)
                {
                    throw new InvalidOperationException($"llama-server exited with {process.ExitCode}: {server.Tail()}");
                }

                try
                {
                    using var health = await server._http.GetAsync(new Uri("health", UriKind.Relative), ct).ConfigureAwait(false);
                    if (health.StatusCode == HttpStatusCode.OK)
                    {
                        return server;
                    }
                }
                catch (HttpRequestException)
                {
                }

                if (deadline.Elapsed > TimeSpan.FromMinutes(5))
                {
                    throw new InvalidOperationException("llama-server did not become healthy in 5 minutes: " + server.Tail());
                }

                await Task.Delay(100, ct).ConfigureAwait(false);
            }
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    /// <summary>
    /// One streamed, greedy /completion: the wall time to the first token (request sent to the first SSE event that
    /// carries one, over loopback HTTP), and the server's own counts from its closing event.
    /// </summary>
    public async Task<Completion> CompleteAsync(string prompt, int maxTokens, bool cachePrompt, CancellationToken ct)
    {
        var body = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["prompt"] = prompt,
            ["n_predict"] = maxTokens,
            ["temperature"] = 0,
            ["stream"] = true,
            ["cache_prompt"] = cachePrompt,
        });
        var watch = Stopwatch.StartNew();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("completion", UriKind.Relative)) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        // llama-server closes the connection after every streamed answer without saying so (its stream provider ends
        // by returning false, which cpp-httplib takes as cancelled): a pooled connection reused for the next request
        // then ends before any response ("response ended prematurely"), most often with several streams at once. A
        // connection per request, as curl does, is what llama-server gives a streaming client anyway.
        request.Headers.ConnectionClose = true;
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"llama-server /completion: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false)}");
        }

        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false));
        double first = -1;
        int promptTokens = 0, cached = 0, generated = 0;
        double promptMs = 0;
        while (await reader.ReadLineAsync(ct).ConfigureAwait(false) is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal))
            {
                continue;
            }

            using var json = JsonDocument.Parse(line.AsMemory(6));
            var root = json.RootElement;
            // The first event that carries a token, even when its text is empty (a piece of a UTF-8 character that
            // is not complete yet, as the random weights of the synthetic model often give): the prompt is done then.
            if (first < 0 && ((root.TryGetProperty("tokens", out var tokens) && tokens.ValueKind == JsonValueKind.Array && tokens.GetArrayLength() > 0)
                || (root.TryGetProperty("content", out var content) && content.GetString() is { Length: > 0 })))
            {
                first = watch.Elapsed.TotalMilliseconds;
            }

            if (root.TryGetProperty("stop", out var stop) && stop.GetBoolean() && root.TryGetProperty("timings", out var timings))
            {
                // No token event at all: the first sampled token ended the answer (an empty answer); the prompt was
                // done when this closing event came.
                if (first < 0)
                {
                    first = watch.Elapsed.TotalMilliseconds;
                }

                promptTokens = timings.GetProperty("prompt_n").GetInt32();
                promptMs = timings.GetProperty("prompt_ms").GetDouble();
                generated = timings.GetProperty("predicted_n").GetInt32();
                cached = root.TryGetProperty("tokens_cached", out var c) ? c.GetInt32() : 0;
                if (timings.TryGetProperty("cache_n", out var cacheN))
                {
                    cached = cacheN.GetInt32();
                }
            }
        }

        return new Completion(first, watch.Elapsed.TotalMilliseconds, promptTokens, cached, generated, promptMs);
    }

    /// <param name="FirstTokenMs">Wall time to the first text; -1 when none came.</param>
    /// <param name="PromptTokens">Prompt tokens the server decoded (timings.prompt_n: without the reused ones).</param>
    /// <param name="CachedTokens">Prompt tokens reused from the slot (timings.cache_n).</param>
    public sealed record Completion(double FirstTokenMs, double TotalMs, int PromptTokens, int CachedTokens, int Generated, double ServerPromptMs);

    public void Dispose()
    {
        _http.Dispose();
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_log)
        {
            _log.AppendLine(line);
            if (_log.Length > 64_000)
            {
                _log.Remove(0, _log.Length - 16_000);
            }
        }
    }

    private string Tail()
    {
        lock (_log)
        {
            var text = _log.ToString().Trim();
            return text[Math.Max(0, text.Length - 800)..];
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string Inv(int value) => value.ToString(CultureInfo.InvariantCulture);
}
