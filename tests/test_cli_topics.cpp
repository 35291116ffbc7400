// The tool after a fit: every method's model used by topics/transform/eval/predict, the
// topic tree with class names, the per-document CSV, --columns, predict, .npy outputs.
#include <nlohmann/json.hpp>

#include <cstring>
#include <set>

#include "test_cli_util.hpp"

namespace nnmf::test {
namespace {

using json = nlohmann::json;

class CliTopics : public CliTest {
 protected:
  json read_json(const std::string& name) {
    std::ifstream f(p(name));
    return json::parse(f);
  }
  /// Names of the 4 middle classes of the synthetic hierarchy (with a comma, to test CSV quoting).
  std::string class_names() { return write("names4.txt", "alpha\nbeta, the second\ngamma\ndelta\n"); }
};

TEST_F(CliTopics, EveryMethodWritesAModelTheOtherCommandsUse) {
  const std::string X = syn_ + "X.mtx";
  const std::map<std::string, std::string> fits = {
      {"neural", "--ranks 9,4 --epochs 5"},
      {"nmf", "--ranks 9 --epochs 20"},
      {"ssnmf", "--ranks 9 --epochs 20 --labels " + syn_ + "labels4.txt"},
      {"hnmf", "--ranks 9,4 --epochs 20 --labels " + syn_ + "labels4.txt"},
      {"deep", "--ranks 9,4 --epochs 5"}};
  for (const auto& [method, flags] : fits) {
    const std::string out = p(method);
    const CliRun f = run("fit " + X + " --method " + method + " " + flags + " -q -o " + out);
    ASSERT_EQ(f.status, 0) << method << ": " << f.output;
    const auto model = NeuralNmf<double>::load(out + "/model.nnmf");
    EXPECT_EQ(model.method(), method);
    EXPECT_EQ(model.factors()[0].storage(), io::read_dense<double>(out + "/A0.mtx").storage()) << method;
    const CliRun t = run("topics " + out + "/model.nnmf " + X + " --top 3");
    EXPECT_EQ(t.status, 0) << method << ": " << t.output;
    EXPECT_NE(t.output.find(method + ","), std::string::npos) << t.output;
    EXPECT_NE(t.output.find("NPMI"), std::string::npos) << t.output;
    EXPECT_EQ(run("transform " + out + "/model.nnmf " + X + " -q -o " + p(method + "_tr")).status, 0) << method;
    const CliRun e = run("eval " + out + "/model.nnmf " + X + " --labels " + syn_ + "labels4.txt");
    EXPECT_EQ(e.status, 0) << method << ": " << e.output;
    const bool supervised = flags.find("--labels") != std::string::npos;
    EXPECT_EQ(!model.classifier().empty(), supervised) << method;
    const CliRun pr = run("predict " + out + "/model.nnmf " + X + " -q -o " + p(method + "_pr"));
    EXPECT_EQ(pr.status, supervised ? 0 : 1) << method << ": " << pr.output;
    // The report gives each layer's coherence.
    const json rep = read_json(method + "/report.json");
    EXPECT_TRUE(rep["layers"][0].contains("npmi")) << method;
    EXPECT_EQ(rep["layers"][0]["npmi_topics"].size(), 9u) << method;
  }
}

TEST_F(CliTopics, TreeClassNamesJsonAndPictures) {
  const CliRun f = run("fit " + syn_ + "X.mtx --ranks 9,4 --labels " + syn_ + "labels4.txt --class-names " +
                       class_names() + " --seed 1 -q -o " + p("fit"));
  ASSERT_EQ(f.status, 0) << f.output;
  const CliRun t = run("topics " + p("fit/model.nnmf") + " " + syn_ + "X.mtx --top 4 -o " + p("t.json") + " --svg " +
                       p("svg"));
  ASSERT_EQ(t.status, 0) << t.output;
  for (const char* name : {"[alpha", "[beta, the second", "[gamma", "[delta", "hierarchy:", "├─", "└─", "distinctive:"})
    EXPECT_NE(t.output.find(name), std::string::npos) << name << "\n" << t.output;
  const json j = read_json("t.json");
  std::set<std::string> names;
  for (const auto& topic : j["layers"][1]["topics"]) {
    names.insert(topic["class_name"].get<std::string>());
    EXPECT_GT(topic["class_share"].get<double>(), 0.5);
    EXPECT_FALSE(topic["children"].empty());
    EXPECT_EQ(topic["terms"].size(), 4u);
  }
  EXPECT_EQ(names, (std::set<std::string>{"alpha", "beta, the second", "gamma", "delta"}));
  for (const char* svg : {"A1.svg", "B.svg", "hierarchy.svg"}) EXPECT_TRUE(exists(p("svg/") + svg)) << svg;
  EXPECT_NE(slurp(p("svg/hierarchy.svg")).find("beta, the second"), std::string::npos);
  // --texts: the top documents with their first words (at most 12, then "...").
  std::string texts;
  for (int j = 0; j < 90; ++j) {
    texts += "text" + std::to_string(j);
    for (int w = 0; w < 14; ++w) texts += " w" + std::to_string(w);
    texts += "\n";
  }
  write("texts.txt", texts);
  const CliRun tx = run("topics " + p("fit/model.nnmf") + " " + syn_ + "X.mtx --top-docs 2 --texts " + p("texts.txt"));
  ASSERT_EQ(tx.status, 0) << tx.output;
  const json docs = j["layers"][1]["topics"][0]["documents"];
  ASSERT_FALSE(docs.empty());
  const std::string first = "text" + std::to_string(docs[0]["document"].get<int>()) + " w0 w1";
  EXPECT_NE(tx.output.find(first), std::string::npos) << first << "\n" << tx.output;
  EXPECT_NE(tx.output.find(" w10 ..."), std::string::npos);
  EXPECT_EQ(tx.output.find(" w11"), std::string::npos);
  write("short.txt", "one\ntwo\n");
  const CliRun st = run("topics " + p("fit/model.nnmf") + " " + syn_ + "X.mtx --texts " + p("short.txt"));
  EXPECT_NE(st.output.find("has 2 lines but X has 90 documents"), std::string::npos) << st.output;
  // Names given to topics override the model's; a wrong count is refused before printing.
  write("bad.txt", "a\nb\n");
  const CliRun bad = run("topics " + p("fit/model.nnmf") + " --class-names " + p("bad.txt"));
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.output.find("2 names but the model's classifier has 4 classes"), std::string::npos) << bad.output;
  EXPECT_EQ(bad.output.find("layer 0"), std::string::npos);
}

/// The rows of a CSV without quoted fields.
std::vector<std::vector<std::string>> csv_rows(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> row;
    std::istringstream ls(line);
    for (std::string f; std::getline(ls, f, ',');) row.push_back(f);
    if (!line.empty() && line.back() == ',') row.push_back("");
    rows.push_back(row);
  }
  return rows;
}

TEST_F(CliTopics, DocumentsCsvRoundTripsTheTransform) {
  ASSERT_EQ(run("fit " + syn_ + "X.mtx --ranks 9,4 --epochs 10 -q -o " + p("fit")).status, 0);
  write("cols.txt", "5\n0\n17\n89\n");
  const std::string sel = " " + syn_ + "X.mtx --columns " + p("cols.txt");
  ASSERT_EQ(run("topics " + p("fit/model.nnmf") + sel + " --documents " + p("docs.csv") + " --doc-topics 2").status, 0);
  ASSERT_EQ(run("transform " + p("fit/model.nnmf") + sel + " -q -o " + p("tr")).status, 0);
  const auto rows = csv_rows(slurp(p("docs.csv")));
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"document", "layer0_topic1", "layer0_share1", "layer0_topic2",
                                               "layer0_share2", "layer1_topic1", "layer1_share1", "layer1_topic2",
                                               "layer1_share2"}));
  const std::vector<std::string> ids{"5", "0", "17", "89"};
  for (int l = 0; l < 2; ++l) {
    const Matrix<double> S = io::read_dense<double>(p("tr/S" + std::to_string(l) + ".mtx"));
    ASSERT_EQ(S.cols(), 4);
    for (index_t j = 0; j < 4; ++j) {
      const auto& r = rows[static_cast<std::size_t>(j + 1)];
      ASSERT_EQ(r.size(), 9u);
      EXPECT_EQ(r[0], ids[static_cast<std::size_t>(j)]);
      double sum = 0, best = -1;
      index_t arg = 0;
      for (index_t t = 0; t < S.rows(); ++t) {
        sum += S(t, j);
        if (S(t, j) > best) best = S(t, j), arg = t;
      }
      EXPECT_EQ(r[static_cast<std::size_t>(1 + 4 * l)], std::to_string(arg));
      EXPECT_NEAR(std::stod(r[static_cast<std::size_t>(2 + 4 * l)]), best / sum, 1e-5);
    }
  }
}

TEST_F(CliTopics, ColumnsSplitTrainAndTestWithoutAScript) {
  std::string train, test, mask;
  for (int j = 0; j < 90; ++j) {
    (j % 3 ? train : test) += std::to_string(j) + "\n";
    mask += j % 3 ? "1\n" : "0\n";
  }
  write("train.txt", train);
  write("test.txt", test);
  write("train_mask.txt", mask);
  const std::string fit = "fit " + syn_ + "X.mtx --ranks 9,4 --labels " + syn_ + "labels4.txt --epochs 10 -q";
  ASSERT_EQ(run(fit + " --columns " + p("train.txt") + " -o " + p("a")).status, 0);
  ASSERT_EQ(run(fit + " --columns " + p("train_mask.txt") + " -o " + p("b")).status, 0);
  EXPECT_EQ(io::read_dense<double>(p("a/S1.mtx")).cols(), 60);
  EXPECT_EQ(slurp(p("a/model.nnmf")), slurp(p("b/model.nnmf")));  // indices and mask agree
  const CliRun pr = run("predict " + p("a/model.nnmf") + " " + syn_ + "X.mtx --columns " + p("test.txt") +
                        " --labels " + syn_ + "labels4.txt -o " + p("pred"));
  ASSERT_EQ(pr.status, 0) << pr.output;
  EXPECT_NE(pr.output.find("accuracy"), std::string::npos);
  const auto pred = io::read_labels(p("pred/labels.txt"), 30);
  const auto truth = io::read_labels(syn_ + "labels4.txt", 90);
  int hits = 0;
  for (int q = 0; q < 30; ++q) hits += pred[static_cast<std::size_t>(q)] == truth[static_cast<std::size_t>(3 * q)];
  EXPECT_NEAR(read_json("pred/report.json")["accuracy"].get<double>(), hits / 30.0, 1e-15);
  EXPECT_GE(hits, 27);  // the held-out third is classified by the model's own B
  const auto csv = csv_rows(slurp(p("pred/predictions.csv")));
  ASSERT_EQ(csv.size(), 31u);
  EXPECT_EQ(csv[2][0], "3");  // the original column index
  const CliRun ev = run("eval " + p("a/model.nnmf") + " " + syn_ + "X.mtx --columns " + p("test.txt") + " --labels " +
                        syn_ + "labels4.txt -o " + p("ev.json"));
  ASSERT_EQ(ev.status, 0) << ev.output;
  EXPECT_NE(ev.output.find("the model's own B"), std::string::npos) << ev.output;
  EXPECT_NEAR(read_json("ev.json")["layers"][1]["accuracy"].get<double>(), hits / 30.0, 1e-15);
  EXPECT_FALSE(read_json("ev.json")["layers"][0].contains("accuracy"));
  const CliRun rf = run("eval " + p("a/model.nnmf") + " " + syn_ + "X.mtx --refit --labels " + syn_ + "labels4.txt");
  EXPECT_NE(rf.output.find("refit per layer"), std::string::npos) << rf.output;
  // Bad selections name the file and the fault.
  write("dup.txt", "1\n2\n1\n");
  const CliRun dup = run("transform " + p("a/model.nnmf") + " " + syn_ + "X.mtx --columns " + p("dup.txt") + " -o " + p("x"));
  EXPECT_EQ(dup.status, 1);
  EXPECT_NE(dup.output.find("column 1 is listed twice"), std::string::npos) << dup.output;
  write("far.txt", "90\n");
  const CliRun far = run("transform " + p("a/model.nnmf") + " " + syn_ + "X.mtx --columns " + p("far.txt") + " -o " + p("x"));
  EXPECT_NE(far.output.find("out of range [0, 90)"), std::string::npos) << far.output;
  EXPECT_FALSE(exists(p("x")));
}

TEST_F(CliTopics, NpyBesideMatrixMarket) {
  ASSERT_EQ(run("fit " + syn_ + "X.mtx --ranks 9,4 --epochs 3 --npy -q -o " + p("fit")).status, 0);
  ASSERT_EQ(run("transform " + p("fit/model.nnmf") + " " + syn_ + "X.mtx --npy -q -o " + p("tr")).status, 0);
  for (const std::string f : {"fit/A0", "fit/A1", "fit/S0", "fit/S1", "tr/S1"}) {
    const Matrix<double> M = io::read_dense<double>(p(f + ".mtx"));
    const std::string b = slurp(p(f + ".npy"));
    ASSERT_GT(b.size(), 10u) << f;
    const std::size_t hl = static_cast<unsigned char>(b[8]) | static_cast<std::size_t>(static_cast<unsigned char>(b[9])) << 8;
    ASSERT_EQ(b.size(), 10 + hl + M.storage().size() * sizeof(double)) << f;
    EXPECT_EQ(std::memcmp(b.data() + 10 + hl, M.data(), M.storage().size() * sizeof(double)), 0) << f;
  }
}

}  // namespace
}  // namespace nnmf::test
