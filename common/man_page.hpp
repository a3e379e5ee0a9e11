#pragma once
// --help laid out like a man page: NAME, SYNOPSIS, DESCRIPTION, OPTIONS (listed by CLI11, so
// they never drift from the parser), COMMANDS when the program has subcommands, then the
// program's own sections (ENVIRONMENT, EXIT STATUS, FILES, EXAMPLES, ...). A subcommand's
// --help keeps CLI11's usual short form. Header-only: used by the two programs, which link CLI11.

#include <CLI/CLI.hpp>

#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace rl::common {

struct man_section {
    std::string title;
    std::string body;  // lines without indentation; indented when printed
};

struct man_page {
    std::string name;  // "ratelimitd - ..."
    std::string synopsis;
    std::string description;
    std::vector<man_section> sections;  // after OPTIONS and COMMANDS
};

class man_page_formatter : public CLI::Formatter {
public:
    explicit man_page_formatter(man_page page) : page_(std::move(page)) { column_width(34); }

    std::string make_help(const CLI::App* app, std::string name,
                          CLI::AppFormatMode mode) const override {
        if (app->get_parent() != nullptr) return Formatter::make_help(app, std::move(name), mode);
        std::string out;
        section(out, "NAME", page_.name);
        section(out, "SYNOPSIS", page_.synopsis);
        section(out, "DESCRIPTION", page_.description);
        out += "OPTIONS\n";
        for (const CLI::Option* option :
             app->get_options([](const CLI::Option* o) { return o->nonpositional(); }))
            out += make_option(option, false);
        out += '\n';
        const std::string commands = command_list(app);
        if (!commands.empty()) out += "COMMANDS\n" + commands + '\n';
        for (const man_section& s : page_.sections) section(out, s.title, s.body);
        return out;
    }

private:
    static void section(std::string& out, const std::string& title, const std::string& body) {
        out += title + '\n';
        std::istringstream lines(body);
        for (std::string line; std::getline(lines, line);)
            out += line.empty() ? "\n" : "    " + line + '\n';
        out += '\n';
    }

    // "  user create NAME" and its description, for every command and nested command.
    std::string command_list(const CLI::App* app) const {
        std::string out;
        for (const CLI::App* command : app->get_subcommands({})) {
            const auto nested = command->get_subcommands({});
            if (nested.empty()) out += command_line(command->get_name(), command);
            for (const CLI::App* sub : nested)
                out += command_line(command->get_name() + ' ' + sub->get_name(), sub);
        }
        return out;
    }

    std::string command_line(std::string usage, const CLI::App* command) const {
        for (const CLI::Option* positional :
             command->get_options([](const CLI::Option* o) { return o->get_positional(); }))
            usage += ' ' + make_option_usage(positional);
        return "  " + usage + "\n      " + command->get_description() + '\n';
    }

    man_page page_;
};

}  // namespace rl::common
