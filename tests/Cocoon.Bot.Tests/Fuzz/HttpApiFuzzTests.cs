using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Cocoon.Bot.Tests.Api;
using Cocoon.Bot.Tests.Hosting;

namespace Cocoon.Bot.Tests.Fuzz;

/// <summary>
/// Seeded requests a client should never send, over a raw socket to the real gateway (Kestrel on loopback): mutated and
/// random JSON bodies, odd methods, paths and headers, and chunked framings with bad or overflowing sizes. None gets a
/// 5xx; every error the API itself writes is its JSON error object with a code; nothing is logged as unhandled; and
/// every metric label stays within its fixed vocabulary however many distinct inputs arrived.
/// </summary>
public sealed partial class HttpApiFuzzTests(ScriptedGatewayFixture fixture) : IClassFixture<ScriptedGatewayFixture>
{
    private static readonly string[] Seeds =
    [
        """{"model":"scripted-echo","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}],"max_tokens":8,"temperature":0.7,"timeout":30}""",
        """{"model":"scripted-echo","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"seed":5,"stop":["x"]}""",
        """{"model":"scripted-echo","prompt":"Once upon a time","max_tokens":4,"top_p":0.9,"max_coefficient":2000}""",
        """{"model":"scripted-busy","messages":[{"role":"user","content":"hi"}]}""",
    ];

    private static readonly string[] Names =
    [
        "model", "messages", "prompt", "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k", "min_p", "seed", "stop",
        "stream", "stream_options", "timeout", "max_coefficient", "n", "tools", "response_format", "logprobs", "echo", "role", "content",
    ];

    private static readonly string[] Paths =
    [
        "/v1/chat/completions", "/v1/chat/completions", "/v1/completions", "/v1/completions", "/v1/models", "/v1/", "/v1/chat/completions/x",
        "/v1/%2e%2e/metrics", "/v1/chat/completions?stream=true", "/healthz", "/miniapp/api/me", "/v1//completions",
    ];

    [Fact]
    public async Task No_malformed_request_gets_a_5xx_and_metric_labels_stay_bounded()
    {
        var statuses = new Dictionary<int, int>();
        await Cocoon.Testing.Fuzz.RunAsync(seed: 1421, cases: 400, async fuzz =>
        {
            var request = Build(fuzz);
            fuzz.Show(Encoding.Latin1.GetString(request));
            var response = await RawHttp.SendAsync(fixture.Gateway.BaseAddress, request);
            var status = response.Status ?? 0;
            statuses[status] = statuses.GetValueOrDefault(status) + 1;
            // 503 is an answer, not a failure, when it says what is off ("not configured", "no worker serves it").
            Assert.True(status < 500 || (status == 503 && response.IsJson && Documented503().IsMatch(response.BodyText)), $"got {status}: {response.BodyText}");
            if (status >= 400 && response.IsJson && response.Body.Length > 0)
            {
                using var body = JsonDocument.Parse(response.Body);
                var code = body.RootElement.GetProperty("error").GetProperty("code");
                Assert.True(code.ValueKind == JsonValueKind.String && code.GetString()!.Length > 0, "an error without a code: " + response.BodyText);
            }
        });

        Assert.DoesNotContain(fixture.Gateway.Logs.Lines, l => l.Contains("[3351]", StringComparison.Ordinal) || l.StartsWith("Error", StringComparison.Ordinal) && l.Contains("Unhandled", StringComparison.OrdinalIgnoreCase));
        Assert.True(statuses.Keys.Any(s => s is >= 200 and < 300) && statuses.Keys.Count(s => s >= 400) >= 2, "the fuzzer reached both answers and refusals: " + string.Join(", ", statuses.Select(s => $"{s.Key}x{s.Value}")));
        await AssertMetricLabelsBoundedAsync();
    }

    /// <summary>One request: a method, a path, headers and a body framed by Content-Length or chunks, any of them broken.</summary>
    private byte[] Build(Cocoon.Testing.Fuzz fuzz)
    {
        var method = fuzz.Next(10) switch
        {
            0 => fuzz.Pick<string>(["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "FROB", "post"]),
            _ => "POST",
        };
        var path = fuzz.Chance(0.9) ? fuzz.Pick(Paths) : "/v1/" + Uri.EscapeDataString(Cocoon.Testing.Fuzz.WellFormed(fuzz.Text(12)));
        byte[] body = fuzz.Next(10) switch
        {
            0 => Encoding.UTF8.GetBytes(fuzz.JsonValue(3)?.ToJsonString() ?? "null"),
            1 => fuzz.Mutate(Encoding.UTF8.GetBytes(fuzz.Pick(Seeds))),
            2 => fuzz.Bytes(40),
            _ => Encoding.UTF8.GetBytes(fuzz.MutateJson(fuzz.Pick(Seeds), Names)),
        };

        var headers = new List<string> { "Host: localhost", "Connection: close" };
        headers.Add(fuzz.Next(12) switch
        {
            0 => "Authorization: Bearer sk-cocoon-" + Cocoon.Testing.Fuzz.WellFormed(fuzz.Text(8)).Where(c => c is > ' ' and < '\u007f').Aggregate(string.Empty, (s, c) => s + c),
            1 => "Authorization: Basic abc",
            _ => "Authorization: Bearer " + fixture.Gateway.ApiKey,
        });
        headers.Add(fuzz.Next(10) switch
        {
            0 => "Content-Type: text/plain",
            1 => "Content-Type: application/json; charset=utf-16",
            2 => "Content-Type: " + fuzz.Pick<string>(["", "*/*", "application/x-www-form-urlencoded", "json"]),
            _ => "Content-Type: application/json",
        });
        if (fuzz.Chance(0.1))
        {
            headers.Add(fuzz.Pick<string>(["Expect: 100-continue", "Accept: text/event-stream", "X-Request-Id: " + new string('a', 300), "Content-Encoding: gzip", "Accept-Encoding: *"]));
        }

        byte[] framed;
        switch (fuzz.Next(10))
        {
            case < 5:
                headers.Add("Content-Length: " + body.Length.ToString(CultureInfo.InvariantCulture));
                framed = body;
                break;
            case 5:
                // Shorter than the body: the rest would be the next request on this connection, which closes instead.
                headers.Add("Content-Length: " + fuzz.Next(body.Length + 1).ToString(CultureInfo.InvariantCulture));
                framed = body;
                break;
            case < 9:
                headers.Add("Transfer-Encoding: chunked");
                framed = RawHttp.Chunked(body, Enumerable.Range(0, 4).Select(_ => fuzz.Next(1, 32)));
                if (fuzz.Chance(0.5))
                {
                    framed = BreakChunks(fuzz, framed);
                }

                break;
            default:
                // Both framings at once: what request smuggling relies on. Kestrel must refuse it, not guess.
                headers.Add("Transfer-Encoding: chunked");
                headers.Add("Content-Length: " + body.Length.ToString(CultureInfo.InvariantCulture));
                framed = RawHttp.Chunked(body, [fuzz.Next(1, 32)]);
                break;
        }

        return RawHttp.Request(method, path, headers.OrderBy(_ => fuzz.Next(100)), framed);
    }

    /// <summary>A chunked body with its first size line replaced by something that is not a fitting size, but never one that waits for more data.</summary>
    private static byte[] BreakChunks(Cocoon.Testing.Fuzz fuzz, byte[] framed)
    {
        var lineEnd = framed.AsSpan().IndexOf("\r\n"u8);
        var size = fuzz.Pick<string>(["FFFFFFFF", "FFFFFFFFFFFFFFFF", "80000000", "-1", "zz", "0x10", " 5", "5 ", "1;ext=\"x\"", "", "00000000000000000001", "+1"]);
        return [.. Encoding.ASCII.GetBytes(size), .. framed.AsSpan(lineEnd)];
    }

    /// <summary>Every label of the gateway's own metrics and of ASP.NET Core's request metrics comes from a fixed vocabulary.</summary>
    private async Task AssertMetricLabelsBoundedAsync()
    {
        using var http = new HttpClient { BaseAddress = fixture.Gateway.BaseAddress };
        var text = await http.GetStringAsync("metrics");
        var values = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (Match label in LabelPattern().Matches(text))
        {
            var name = label.Groups[1].Value;
            if (!values.TryGetValue(name, out var set))
            {
                values[name] = set = new HashSet<string>(StringComparer.Ordinal);
            }

            set.Add(label.Groups[2].Value);
        }

        var report = string.Join("; ", values.Select(v => $"{v.Key}: {string.Join(",", v.Value.Order())}"));
        foreach (var (name, set) in values)
        {
            // otel_scope_* and similar constant labels are one value each; buckets are the histograms' fixed boundaries.
            var limit = name switch
            {
                "le" => 40,
                "reason" => Cocoon.Bot.Observability.ApiMetrics.RefusalReasons.Count + 1,
                _ => 16,
            };
            Assert.True(set.Count <= limit, $"label '{name}' took {set.Count} values (limit {limit}): {report}");
        }

        // Two metrics use "reason": the API's refusals (a fixed list) and the gateway's worker refusals (kebab-case
        // names from the code, never a value carrying numbers or text); the count limit above bounds both.
        Assert.True(values.GetValueOrDefault("reason", []).All(r => Cocoon.Bot.Observability.ApiMetrics.RefusalReasons.Contains(r) || r == "other"
            || System.Text.RegularExpressions.Regex.IsMatch(r, "^[a-z]+(-[a-z]+)*$")), report);
        Assert.DoesNotContain(values.GetValueOrDefault("http_route", []), r => r.Contains('%', StringComparison.Ordinal));
    }

    [GeneratedRegex("\"code\":\"(miniapp_disabled|model_unavailable|ton_not_configured|ton_proof_not_configured)\"")]
    private static partial Regex Documented503();

    [GeneratedRegex("([a-z_]+)=\"([^\"]*)\"")]
    private static partial Regex LabelPattern();
}
