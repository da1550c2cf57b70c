using System.Net;
using System.Text;
using Cocoon.Bot.Tests.Api;

namespace Cocoon.Bot.Tests.Observability;

public sealed class MetricsEndpointTests(ScriptedGatewayFixture fixture) : IClassFixture<ScriptedGatewayFixture>
{
    [Fact]
    public async Task Metrics_are_prometheus_text_with_requests_refusals_and_tokens()
    {
        using var http = fixture.Gateway.CreateApiClient();
        using (await http.PostAsync("v1/chat/completions", new StringContent("""{"model":"scripted-echo","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json")))
        using (await http.PostAsync("v1/chat/completions", new StringContent("""{"model":"scripted-busy","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json")))
        {
        }

        // The exporter caches a scrape briefly; poll until the counters are in.
        string text = string.Empty;
        for (var i = 0; i < 50 && !text.Contains("workers_busy", StringComparison.Ordinal); i++)
        {
            using var anonymous = new HttpClient { BaseAddress = fixture.Gateway.BaseAddress };
            text = await anonymous.GetStringAsync("metrics");
            await Task.Delay(100);
        }

        Assert.Contains("cocoon_api_requests_total{", text, StringComparison.Ordinal);
        Assert.Contains("reason=\"workers_busy\"", text, StringComparison.Ordinal);
        Assert.Contains("cocoon_api_completion_tokens_total", text, StringComparison.Ordinal);
        Assert.Contains("cocoon_api_time_to_first_token_seconds_bucket", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Hello", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Healthz_is_200_when_the_dispatcher_lists_an_attested_worker()
    {
        using var anonymous = new HttpClient { BaseAddress = fixture.Gateway.BaseAddress };
        using var response = await anonymous.GetAsync("healthz");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("\"status\":\"ok\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
