using System.Diagnostics.Metrics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Cocoon.Bot.Dispatch;
using Cocoon.Bot.Hosting;
using Cocoon.Bot.Observability;
using Cocoon.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Bot.Tests.Observability;

/// <summary>
/// The Grafana dashboard in docs/grafana queries only series the gateway exports: every <c>cocoon_*</c> name in its
/// queries is an instrument of the gateway's meters under the Prometheus exporter's naming (dots to underscores, a
/// unit of seconds adds <c>_seconds</c>, counters end in <c>_total</c>, histograms are read by <c>_bucket</c>), the
/// naming that <see cref="MetricsEndpointTests"/> sees on a real scrape. A renamed metric breaks this test, not the dashboard.
/// </summary>
public sealed partial class DashboardTests
{
    [Fact]
    public void Every_series_the_dashboard_queries_is_one_the_gateway_exports()
    {
        var exported = new HashSet<string>(StringComparer.Ordinal);
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, _) =>
            {
                if (GatewayHosting.Meters.Contains(instrument.Meter.Name))
                {
                    foreach (var name in PrometheusNames(instrument))
                    {
                        exported.Add(name);
                    }
                }
            },
        };
        listener.Start();
        using (var services = new ServiceCollection().AddMetrics().AddSingleton<GatewayMetrics>().AddSingleton<ApiMetrics>().BuildServiceProvider())
        {
            _ = services.GetRequiredService<GatewayMetrics>();
            _ = services.GetRequiredService<ApiMetrics>();
        }

        using var dashboard = JsonDocument.Parse(File.ReadAllText(Path.Combine(SharedFiles.RepoRoot, "docs", "grafana", "cocoon-gateway.json")));
        var queries = dashboard.RootElement.GetProperty("panels").EnumerateArray()
            .SelectMany(p => p.GetProperty("targets").EnumerateArray())
            .Select(t => t.GetProperty("expr").GetString()!)
            .ToList();
        Assert.True(queries.Count >= 12, "the dashboard has its panels");
        var queried = queries.SelectMany(q => SeriesName().Matches(q).Select(m => m.Value)).Distinct().ToList();
        Assert.Contains("cocoon_redispatches_total", queried);

        // Every fault counter has a panel: resumes, re-dispatches, refusals (gateway and API), job outcomes, admissions.
        foreach (var fault in new[] { "cocoon_resumes_total", "cocoon_refusals_total", "cocoon_api_refusals_total", "cocoon_jobs_total", "cocoon_admissions_total" })
        {
            Assert.Contains(fault, queried);
        }

        Assert.All(queried, name => Assert.True(exported.Contains(name), $"the dashboard queries {name}, which the gateway does not export"));
    }

    private static IEnumerable<string> PrometheusNames(Instrument instrument)
    {
        var name = instrument.Name.Replace('.', '_') + (instrument.Unit == "s" ? "_seconds" : "");
        var type = instrument.GetType().GetGenericTypeDefinition();
        if (type == typeof(Counter<>))
        {
            yield return name + "_total";
        }
        else if (type == typeof(Histogram<>))
        {
            yield return name + "_bucket";
            yield return name + "_sum";
            yield return name + "_count";
        }
        else
        {
            yield return name;
        }
    }

    [GeneratedRegex("cocoon_[a-z_]+")]
    private static partial Regex SeriesName();
}
