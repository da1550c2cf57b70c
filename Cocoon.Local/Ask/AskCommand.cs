using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Cocoon.Local.Up;
using Cocoon.Local.Verify;
using Cocoon.Network.Hosting;
using Microsoft.Extensions.Configuration;

namespace Cocoon.Local.Ask;

/// <summary>
/// <c>./cocoon ask "TEXT"</c>: one chat turn against the running gateway, streamed to the terminal, then tokens, cost,
/// the worker that answered and how it was attested. Uses the same public API any client uses.
/// </summary>
internal static class AskCommand
{
    private const string Usage = "usage: ./cocoon ask [--model NAME] [--max-tokens N] \"TEXT\"";

    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        string? model = null;
        int? maxTokens = null;
        var text = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--model" when i + 1 < args.Length:
                    model = args[++i];
                    break;
                case "--max-tokens" when i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0:
                    maxTokens = n;
                    i++;
                    break;
                case "--model" or "--max-tokens":
                    // A flag without its value (or a count that is not one) would otherwise be asked as the prompt.
                    await Console.Error.WriteLineAsync($"cocoon ask: {args[i]} needs {(args[i] == "--model" ? "a model name" : "a whole number above 0")}. {Usage}");
                    return 2;
                case "-h" or "--help":
                    await Console.Error.WriteLineAsync(Usage);
                    return 0;
                case ['-', '-', >= 'a' and <= 'z', ..]:
                    await Console.Error.WriteLineAsync($"cocoon ask: unknown option {args[i]}. {Usage}");
                    return 2;
                default:
                    text.Add(args[i]);
                    break;
            }
        }

        if (text.Count == 0)
        {
            await Console.Error.WriteLineAsync(Usage);
            return 2;
        }

        var configuration = new ConfigurationBuilder().AddCocoonEnvironment().Build();
        var url = configuration["Gateway:Url"] is { Length: > 0 } u ? u : CocoonEnvironment.DefaultHttp;
        var key = configuration["Gateway:ApiKey"] ?? LocalDataFolder.ReadSavedApiKey(CocoonEnvironment.DataDirPath(configuration));
        if (string.IsNullOrEmpty(key))
        {
            await Console.Error.WriteLineAsync("No API key: set COCOON_API_KEY, or start the stack with ./cocoon up (it saves the local key under COCOON_DATA).");
            return 2;
        }

        using var http = new HttpClient { BaseAddress = new Uri(url.TrimEnd('/') + "/"), Timeout = Timeout.InfiniteTimeSpan };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        try
        {
            model ??= await DefaultModelAsync(http, cancellationToken);
            if (model is null)
            {
                await Console.Error.WriteLineAsync($"The gateway at {url} serves no model yet: is a worker running? (GET {url}/healthz says why.)");
                return 1;
            }

            return await AskAsync(http, model, string.Join(' ', text), maxTokens, cancellationToken);
        }
        catch (HttpRequestException ex) when (ex.StatusCode is null)
        {
            await Console.Error.WriteLineAsync($"The gateway is not answering at {url} ({ex.HttpRequestError}): start it with ./cocoon up, or set COCOON_HTTP.");
            return 1;
        }
        catch (IOException ex) when (!cancellationToken.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync($"\nThe gateway closed the connection before the answer was complete ({ex.Message}).");
            return 1;
        }
        catch (AskFailedException ex)
        {
            await Console.Error.WriteLineAsync("error: " + ex.Message);
            return 1;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync();
            return 130;
        }
    }

    private static async Task<string?> DefaultModelAsync(HttpClient http, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync("v1/models", cancellationToken);
        await EnsureOkAsync(response, cancellationToken);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        return doc.RootElement.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()).FirstOrDefault();
    }

    private static async Task<int> AskAsync(HttpClient http, string model, string prompt, int? maxTokens, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new ByteArrayContent(StreamedChatBody.Create(model, prompt, maxTokens)) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
        };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        await EnsureOkAsync(response, cancellationToken);

        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken), Encoding.UTF8);
        var stdout = Console.Out;
        JsonElement? usage = null, info = null;
        var answer = new StringBuilder();
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal))
            {
                continue;
            }

            var data = line["data: ".Length..];
            if (data == "[DONE]")
            {
                break;
            }

            using var doc = JsonDocument.Parse(data);
            var root = doc.RootElement;
            if (root.TryGetProperty("error", out var error))
            {
                await stdout.WriteLineAsync();
                await Console.Error.WriteLineAsync("error: " + error.GetProperty("message").GetString());
                return 1;
            }

            foreach (var choice in root.GetProperty("choices").EnumerateArray())
            {
                if (choice.GetProperty("delta").TryGetProperty("content", out var content) && content.GetString() is { Length: > 0 } piece)
                {
                    answer.Append(piece);
                    await stdout.WriteAsync(piece);
                    await stdout.FlushAsync(cancellationToken);
                }
            }

            if (root.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object)
            {
                usage = u.Clone();
            }

            if (root.TryGetProperty("cocoon", out var c) && c.ValueKind == JsonValueKind.Object)
            {
                info = c.Clone();
            }
        }

        await stdout.WriteLineAsync();
        if (response.Headers.TryGetValues("X-Cocoon-Receipt-Id", out var ids) && ids.FirstOrDefault() is { Length: > 0 } receiptId
            && info is { } withRequest && withRequest.TryGetProperty("canonical_request", out var canonical) && canonical.GetString() is { Length: > 0 } sealedRequest)
        {
            // The caller's own copy of what was run and answered, for `./cocoon verify` to hash: it never leaves this machine.
            await VerifyCommand.SaveAsync(receiptId, Convert.FromBase64String(sealedRequest), answer.ToString(), cancellationToken);
            await Console.Error.WriteLineAsync($"--- receipt {receiptId}: check it with ./cocoon verify {receiptId}");
        }

        if (usage is { } us && info is { } inf)
        {
            var cost = us.GetProperty("total_cost").GetInt64();
            var attestation = inf.GetProperty("attestation").GetString();
            await Console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"--- {us.GetProperty("prompt_tokens").GetInt32()} prompt + {us.GetProperty("completion_tokens").GetInt32()} completion tokens; cost {cost} nanotons ({cost / 1e9:0.#########} TON)"));
            await Console.Error.WriteLineAsync(
                $"--- answered by worker {inf.GetProperty("worker_id").GetString()} (provider {inf.GetProperty("provider_id").GetString()}), attestation: {attestation}" +
                (attestation == "simulated" ? " (a software stand-in for a TEE: no hardware guarantee)" : string.Empty));
        }

        return 0;
    }

    private static async Task EnsureOkAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        var message = text;
        try
        {
            using var doc = JsonDocument.Parse(text);
            message = doc.RootElement.GetProperty("error").GetProperty("message").GetString() ?? text;
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
        {
        }

        throw new AskFailedException($"{(int)response.StatusCode} {response.StatusCode}: {message}", response.StatusCode);
    }
}

internal sealed class AskFailedException(string message, HttpStatusCode status) : Exception(message)
{
    public HttpStatusCode Status { get; } = status;
}
