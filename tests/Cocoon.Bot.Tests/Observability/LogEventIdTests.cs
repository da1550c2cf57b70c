using System.Reflection;
using Microsoft.Extensions.Logging;

namespace Cocoon.Bot.Tests.Observability;

/// <summary>
/// Every [LoggerMessage] event id in the product is unique across all projects and lies inside its project's range
/// from that project's LogEvents registry, so a log line's id names one place in the code.
/// </summary>
public sealed class LogEventIdTests
{
    private static readonly string[] Projects = ["Cocoon.Bot", "Cocoon.Worker", "Cocoon.Ledger", "Cocoon.Network", "Cocoon.Engine"];

    [Fact]
    public void Every_event_id_is_unique_and_inside_its_projects_range()
    {
        var seen = new Dictionary<int, string>();
        var problems = new List<string>();
        var counted = 0;
        foreach (var name in Projects)
        {
            var assembly = Assembly.Load(name);
            var registry = assembly.GetType(name + ".LogEvents");
            var range = registry is null
                ? ((int, int)?)null
                : ((int)registry.GetField("First")!.GetValue(null)!, (int)registry.GetField("Last")!.GetValue(null)!);
            foreach (var type in assembly.GetTypes())
            {
                foreach (var method in type.GetMethods(BindingFlags.Static | BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                {
                    if (method.GetCustomAttribute<LoggerMessageAttribute>() is not { } attribute)
                    {
                        continue;
                    }

                    counted++;
                    var where = $"{type.FullName}.{method.Name}";
                    var id = attribute.EventId;
                    if (range is not { } r)
                    {
                        problems.Add($"{where}: {name} logs but has no LogEvents registry");
                    }
                    else if (id < r.Item1 || id > r.Item2)
                    {
                        problems.Add($"{where}: event id {id} is outside {name}'s range {r.Item1}-{r.Item2}");
                    }

                    if (!seen.TryAdd(id, where))
                    {
                        problems.Add($"{where}: event id {id} is also used by {seen[id]}");
                    }
                }
            }
        }

        Assert.True(counted > 50, $"only {counted} [LoggerMessage] methods found: the scan is not reading the assemblies");
        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }
}
